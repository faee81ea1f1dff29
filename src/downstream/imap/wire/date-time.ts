/** INTERNALDATE on the wire (RFC 3501 §9 `date-time`): `"17-Jul-1996 02:44:25 +0000"`, always in UTC here. */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

/** The quoted date-time for an instant in ms. */
export function formatInternalDate(ms: number): string {
  const d = new Date(ms);
  // `date-year` is exactly 4 digits (RFC 3501 §9), also for years before 1000.
  return `"${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${String(d.getUTCFullYear()).padStart(4, '0')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000"`;
}

/** Midnight UTC of the instant's day: SEARCH BEFORE/ON/SINCE compare days, "disregarding time and timezone" (§6.4.4). */
export function dayOf(ms: number): number {
  // Not Date.UTC: it reads years 0-99 as 1900-1999.
  const d = new Date(ms);
  d.setUTCHours(0, 0, 0, 0);
  return d.getTime();
}
