import { CountedIds, LIVE } from './countedIds.ts';

/**
 * The members each message of a channel mentions, for its deletion or edit: one CountedIds whose keys are
 * (message hi, message lo, member), so a message's mentions are one run of adjacent keys, in member order. A Map
 * of lists by message id held a string, an array and its elements for every message that mentions anyone: a
 * third of the heap objects a fold made (1M events over 20,000 channels), for the collector to trace.
 *
 * A mention taken away (an edit, a deletion) stays as a dead key, as a deleted message does in `messages`. A
 * subclass rather than a holder of one: an object fewer per channel that mentions anyone. `size` is the keys
 * held, taken away ones included, and `fill` takes (message hi, message lo, member, 1) entries in key order.
 */
export class MentionIndex extends CountedIds {
  /** The members message (hi, lo) mentions, in member order; empty when none. */
  membersOf(hi: number, lo: number): number[] {
    const members: number[] = [];
    this.forEachLiveFrom(hi, lo, 0, (keyHi, keyLo, member) => {
      if (keyHi !== hi || keyLo !== lo) return false;
      members.push(member);
      return true;
    });
    return members;
  }

  /**
   * Lists the members a message new to the channel mentions (nothing is listed for it, live or taken away): one
   * insert each, in member order, so that they append after the channel's greatest key.
   */
  add(hi: number, lo: number, members: readonly number[]): void {
    const sorted = members.length > 1 ? members.toSorted((a, b) => a - b) : members;
    for (const member of sorted) this.insert(hi, lo, member, true);
  }

  /** Sets the members message (hi, lo) mentions; an empty list takes them all away. */
  set(hi: number, lo: number, members: readonly number[]): void {
    for (const member of this.membersOf(hi, lo)) {
      if (!members.includes(member)) this.kill(hi, lo, member);
    }
    for (const member of members) {
      if (this.state(hi, lo, member) !== LIVE) this.revive(hi, lo, member);
    }
  }

  /** Calls `visit` with each message that mentions anyone, in id order, and its members: for a snapshot. */
  forEachMessage(visit: (hi: number, lo: number, members: readonly number[]) => void): void {
    let members: number[] = [];
    let hi = 0;
    let lo = 0;
    this.forEachEntry((keyHi, keyLo, member, live) => {
      if (!live) return;
      if (members.length > 0 && (keyHi !== hi || keyLo !== lo)) {
        visit(hi, lo, members);
        members = [];
      }
      hi = keyHi;
      lo = keyLo;
      members.push(member);
    });
    if (members.length > 0) visit(hi, lo, members);
  }
}
