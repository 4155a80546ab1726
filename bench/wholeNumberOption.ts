/** A command-line option that must be a whole number from `min` up; exits with status 2, naming it, otherwise. */
export function wholeNumber(name: string, value: string | undefined, min = 1): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < min) {
    console.error(`--${name} must be a whole number from ${min} up; got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return number;
}
