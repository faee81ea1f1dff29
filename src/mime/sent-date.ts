/**
 * The Date: header (RFC 5322 §3.3, with the obsolete forms of §4.3) read into numbers for SEARCH
 * SENTBEFORE/SENTON/SENTSINCE, which compare calendar dates "disregarding time and timezone"
 * (RFC 3501 §6.4.4).
 */

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

/** Obsolete zone names, in minutes east of UTC (RFC 5322 §4.3); military zones count as +0000. */
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

/** The instant the message says it was sent, and the calendar day as written in its own zone. */
export interface SentDate {
  /** Milliseconds since the epoch (UTC). */
  time: number;
  /** Midnight UTC of the day written in the header (the date part alone, for RFC 3501 day comparisons). */
  day: number;
}

const DATE_RE =
  /^\s*(?:[a-z]+\s*,?\s*)?(\d{1,2})\s*[-\s]\s*([a-z]{3})[a-z]*\s*[-\s]\s*(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{1,2})(?:\s*:\s*(\d{1,2}))?(?:\s*\.\d+)?\s*([+-]\d{4}|[a-z]+)?/i;

/** Reads a Date: value; null when it cannot be understood. */
export function parseSentDate(value: string): SentDate | null {
  const m = DATE_RE.exec(value);
  if (m) {
    const month = MONTHS[m[2].toLowerCase()];
    if (month === undefined) return null;
    let year = Number(m[3]);
    // RFC 5322 §4.3: two-digit years below 50 are 20xx, others 19xx; three digits add 1900.
    if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3].length === 3) year += 1900;
    const day = Number(m[1]);
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = m[6] === undefined ? 0 : Number(m[6]);
    if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
    let offset = 0;
    const zone = m[7];
    if (zone !== undefined) {
      if (zone[0] === '+' || zone[0] === '-') {
        const sign = zone[0] === '-' ? -1 : 1;
        offset = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
      } else {
        offset = ZONES[zone.toLowerCase()] ?? 0;
      }
    }
    const dayUtc = Date.UTC(year, month, day);
    const time = Date.UTC(year, month, day, hour, minute, second) - offset * 60_000;
    if (!Number.isFinite(time)) return null;
    return { time, day: dayUtc };
  }
  const fallback = Date.parse(value);
  if (!Number.isFinite(fallback)) return null;
  const d = new Date(fallback);
  return { time: fallback, day: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) };
}
