/** The clock the functional core is given. Production passes `systemClock`; tests a fake. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
