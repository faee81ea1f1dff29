/** A size as people read it in a message: KB below a megabyte (rounded up, so nothing reads as 0 KB), MB above. */
export function megabytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}
