/**
 * Counters, gauges and histograms in the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). No dependency: the format is a
 * few lines per metric.
 *
 * A metric is either updated where its events happen (inc, set, observe) or reads its values from
 * state at each scrape (`collect`), never both: a collected metric's values are replaced entirely
 * at every scrape, so label sets that no longer exist disappear.
 */

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Sets one series of a collected metric: its value, then one value per label name. */
export type CollectSet = (value: number, ...labelValues: string[]) => void;
export type Collect = (set: CollectSet) => void | Promise<void>;

export interface MetricOptions {
  /** [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total by convention. */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
}

export interface CollectedMetricOptions extends MetricOptions {
  /** Reads the metric's values from state at each scrape. */
  readonly collect?: Collect;
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing and finite; the +Inf bucket is always added. */
  readonly buckets: readonly number[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabelValue = (text: string) => text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** `{a="x",b="y"}`, or '' with no labels. */
function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i]!)}"`).join(',')}}`;
}

/** One label value is its own key; several are joined unambiguously. */
const seriesKey = (values: readonly string[]) => (values.length === 1 ? values[0]! : JSON.stringify(values));

/** One metric: its series, one per set of label values, each a child that holds the numbers. */
abstract class Family<Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { readonly values: readonly string[]; readonly child: Child }>();

  constructor(
    options: MetricOptions,
    private readonly type: 'counter' | 'gauge' | 'histogram',
  ) {
    if (!METRIC_NAME.test(options.name))
      throw new Error(`metric name "${options.name}" is not [a-zA-Z_:][a-zA-Z0-9_:]*`);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    for (const label of this.labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__'))
        throw new Error(
          `metric ${this.name}: label name "${label}" is not [a-zA-Z_][a-zA-Z0-9_]* (or starts with __, which is reserved)`,
        );
    }
    if (new Set(this.labelNames).size !== this.labelNames.length)
      throw new Error(`metric ${this.name}: a label name appears twice`);
  }

  /** The series of these label values, created at 0 on first use; keep it to update it cheaply. */
  labels(...values: string[]): Child {
    if (values.length !== this.labelNames.length) {
      throw new Error(
        `metric ${this.name} takes ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${values.length}`,
      );
    }
    const key = seriesKey(values);
    let entry = this.series.get(key);
    if (entry === undefined) {
      entry = { values, child: this.newChild() };
      this.series.set(key, entry);
    }
    return entry.child;
  }

  /** The series of a metric without labels. */
  protected unlabelled(): Child {
    if (this.labelNames.length > 0)
      throw new Error(`metric ${this.name} has labels (${this.labelNames.join(', ')}): update it through labels(...)`);
    return this.labels();
  }

  /** Reads collected values, if this metric collects; the others have nothing to do at a scrape. */
  async collect(): Promise<void> {}

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    for (const { values, child } of this.series.values())
      this.renderSeries(lines, labelText(this.labelNames, values), values, child);
  }

  protected abstract newChild(): Child;
  protected abstract renderSeries(lines: string[], labels: string, values: readonly string[], child: Child): void;
}

/** A counter or gauge series. */
interface ValueChild {
  value: number;
}

/** Counter and gauge: one number per series, optionally read from state at each scrape. */
abstract class ValueFamily<Child extends ValueChild> extends Family<Child> {
  readonly #collect?: Collect;

  constructor(options: CollectedMetricOptions, type: 'counter' | 'gauge') {
    super(options, type);
    this.#collect = options.collect;
    // A metric without labels shows 0 from the start rather than no series at all.
    if (this.labelNames.length === 0 && this.#collect === undefined) this.labels();
  }

  override async collect(): Promise<void> {
    if (this.#collect === undefined) return;
    this.series.clear();
    await this.#collect((value, ...labelValues) => {
      this.labels(...labelValues).value = value;
    });
  }

  protected renderSeries(lines: string[], labels: string, _values: readonly string[], child: Child): void {
    lines.push(`${this.name}${labels} ${formatValue(child.value)}`);
  }
}

export class CounterChild implements ValueChild {
  value = 0;

  inc(amount = 1): void {
    if (!(amount >= 0)) throw new Error(`a counter only goes up: inc(${amount})`);
    this.value += amount;
  }
}

export class Counter extends ValueFamily<CounterChild> {
  constructor(options: CollectedMetricOptions) {
    super(options, 'counter');
  }

  inc(amount = 1): void {
    this.unlabelled().inc(amount);
  }

  protected newChild(): CounterChild {
    return new CounterChild();
  }
}

export class GaugeChild implements ValueChild {
  value = 0;

  set(value: number): void {
    this.value = value;
  }

  inc(amount = 1): void {
    this.value += amount;
  }

  dec(amount = 1): void {
    this.value -= amount;
  }
}

export class Gauge extends ValueFamily<GaugeChild> {
  constructor(options: CollectedMetricOptions) {
    super(options, 'gauge');
  }

  set(value: number): void {
    this.unlabelled().set(value);
  }

  inc(amount = 1): void {
    this.unlabelled().inc(amount);
  }

  dec(amount = 1): void {
    this.unlabelled().dec(amount);
  }

  protected newChild(): GaugeChild {
    return new GaugeChild();
  }
}

export class HistogramChild {
  /** Observations per bucket, not cumulative (the last is +Inf); cumulated when rendered. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class Histogram extends Family<HistogramChild> {
  readonly buckets: readonly number[];

  constructor(options: HistogramOptions) {
    super(options, 'histogram');
    if (this.labelNames.includes('le'))
      throw new Error(`histogram ${this.name}: "le" is the bucket label, it cannot be one of its own`);
    const { buckets } = options;
    if (buckets.length === 0) throw new Error(`histogram ${this.name} needs at least one bucket`);
    buckets.forEach((bound, i) => {
      if (!Number.isFinite(bound))
        throw new Error(`histogram ${this.name}: bucket ${bound} is not finite (the +Inf bucket is always there)`);
      if (i > 0 && bound <= buckets[i - 1]!)
        throw new Error(`histogram ${this.name}: buckets must increase strictly, ${bound} follows ${buckets[i - 1]}`);
    });
    this.buckets = [...buckets];
    if (this.labelNames.length === 0) this.labels();
  }

  observe(value: number): void {
    this.unlabelled().observe(value);
  }

  protected newChild(): HistogramChild {
    return new HistogramChild(this.buckets);
  }

  protected renderSeries(lines: string[], _labels: string, values: readonly string[], child: HistogramChild): void {
    const names = [...this.labelNames, 'le'];
    let cumulative = 0;
    child.counts.forEach((count, i) => {
      cumulative += count;
      const le = i < this.buckets.length ? formatValue(this.buckets[i]!) : '+Inf';
      lines.push(`${this.name}_bucket${labelText(names, [...values, le])} ${formatValue(cumulative)}`);
    });
    const labels = labelText(this.labelNames, values);
    lines.push(
      `${this.name}_sum${labels} ${formatValue(child.sum)}`,
      `${this.name}_count${labels} ${formatValue(child.count)}`,
    );
  }
}

/** A role's metrics, rendered in the order they were made. */
export class Metrics {
  readonly #families: Family<unknown>[] = [];

  counter(options: CollectedMetricOptions): Counter {
    return this.#add(new Counter(options));
  }

  gauge(options: CollectedMetricOptions): Gauge {
    return this.#add(new Gauge(options));
  }

  histogram(options: HistogramOptions): Histogram {
    return this.#add(new Histogram(options));
  }

  /** The text a scrape receives; collected metrics read their state first. */
  async render(): Promise<string> {
    for (const family of this.#families) await family.collect();
    const lines: string[] = [];
    for (const family of this.#families) family.render(lines);
    return `${lines.join('\n')}\n`;
  }

  #add<F extends Family<unknown>>(family: F): F {
    if (this.#families.some((f) => f.name === family.name)) throw new Error(`metric ${family.name} is already defined`);
    this.#families.push(family);
    return family;
  }
}
