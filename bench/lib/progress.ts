/**
 * The progress line: which scenario, which step of how many, and for how
 * long. On a terminal it is one line rewritten in place (with a ticking
 * clock); otherwise (CI, a pipe, a test) each step is printed once, so logs
 * stay readable.
 * @module
 */

const CLEAR = "\r\x1b[2K";

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

export class Progress {
  readonly #tty: boolean;
  readonly #t0 = performance.now();
  #scenario = "";
  #step = 0;
  #steps = 0;
  #label = "";
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly write: (s: string) => void = (s) => process.stdout.write(s),
    tty = process.stdout.isTTY === true,
  ) {
    this.#tty = tty;
  }

  /** Starts a scenario of about `steps` steps (an estimate: the line says so). */
  begin(scenario: string, steps: number): void {
    this.#scenario = scenario;
    this.#step = 0;
    this.#steps = steps;
  }

  /** A new step; `label` says what runs now. */
  step(label: string): void {
    this.#step++;
    if (this.#step > this.#steps) this.#steps = this.#step;
    this.#label = label;
    if (this.#tty) {
      this.#draw();
      this.#timer ??= setInterval(() => this.#draw(), 1000);
    } else this.write(`${this.#line()}\n`);
  }

  /** Replaces the current step's label (a counter moving), without counting a new step. */
  update(label: string): void {
    this.#label = label;
    if (this.#tty) this.#draw();
  }

  /** A line of results: printed above the progress line. */
  log(line: string): void {
    if (this.#tty) this.write(CLEAR);
    this.write(`${line}\n`);
    if (this.#tty && this.#timer) this.#draw();
  }

  /** Clears the progress line and stops its clock. */
  end(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) this.write(CLEAR);
  }

  #line(): string {
    return `▸ [${this.#scenario} ${this.#step}/${this.#steps} · ${clock(performance.now() - this.#t0)}] ${this.#label}`;
  }

  #draw(): void {
    this.write(CLEAR + this.#line().slice(0, (process.stdout.columns ?? 120) - 1));
  }
}
