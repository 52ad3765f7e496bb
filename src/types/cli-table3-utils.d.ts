// cli-table3 ships no types for its helpers; we use its width measure so our widths match its own.
declare module 'cli-table3/src/utils.js' {
  const utils: { strlen(text: string): number };
  export default utils;
}
