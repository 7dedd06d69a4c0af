import { ValidationError } from './errors.js';

/**
 * An IANA time zone name Intl accepts ('Europe/Paris', 'Asia/Kathmandu', 'UTC'), kept as written
 * (ICU would respell some, Kathmandu as Katmandu); anything else is INVALID_INPUT.
 */
export function validateTimeZone(timeZone: string, field: string[] = ['input', 'timeZone']): string {
  const name = timeZone.trim();
  if (name.length === 0 || name.length > 64) throw new ValidationError('timeZone must be an IANA time zone such as Europe/Paris', field);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    throw new ValidationError(`timeZone ${JSON.stringify(name)} is not an IANA time zone`, field);
  }
  return name;
}
