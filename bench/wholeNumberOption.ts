/** A command-line option that must be a whole number from 1 up; exits with status 2, naming it, otherwise. */
export function wholeNumber(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) {
    console.error(`--${name} must be a whole number from 1 up; got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return number;
}
