// Weekly access windows read in the tenant's IANA time zone. Pure: the wall-clock time of an
// instant in a zone comes from Intl (the runtime's ICU time zone data), so daylight-saving
// changes move the window with the zone's clocks, as a person in that zone expects.

/** One weekly window: ISO days (1 Monday .. 7 Sunday) and [start, end) as "HH:MM" local time. */
export interface WeeklyWindow {
  days: number[];
  start: string;
  end: string;
}

const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** True when `zone` is a time zone this runtime knows (Intl throws a RangeError otherwise). */
export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    // RangeError: unknown zone; that is the answer, not a failure.
    return false;
  }
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    formatters.set(zone, f);
  }
  return f;
}

/** The ISO weekday and minute of the day of `at` on the clocks of `zone`. */
export function localTime(at: Date, zone: string): { day: number; minute: number } {
  const parts = formatter(zone).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return { day: WEEKDAY[get("weekday")] ?? 1, minute: Number(get("hour")) * 60 + Number(get("minute")) };
}

export function minuteOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/**
 * Is `at` inside one of the windows? A window whose end is not after its start runs over
 * midnight: "22:00"-"06:00" on Friday covers Friday 22:00 to Saturday 06:00. "24:00" ends a day.
 */
export function withinWeeklyWindows(windows: readonly WeeklyWindow[], zone: string, at: Date): boolean {
  const { day, minute } = localTime(at, zone);
  const yesterday = day === 1 ? 7 : day - 1;
  for (const w of windows) {
    const start = minuteOfDay(w.start);
    const end = minuteOfDay(w.end);
    if (start < end) {
      if (w.days.includes(day) && minute >= start && minute < end) return true;
    } else {
      if (w.days.includes(day) && minute >= start) return true;
      if (w.days.includes(yesterday) && minute < end) return true;
    }
  }
  return false;
}
