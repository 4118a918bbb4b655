/**
 * The metrics of one `Protection` instance: the shared metric definitions, each update tagged with
 * the instance's `protection` label followed by the calling fiber's metric labels.
 *
 * Effect's `Metric.tagged` builds a fresh label array on every update (and so misses the metric hook
 * cache each time); the label array is built here once per distinct fiber label array instead.
 */
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

/** The counters and the gauge an instance updates (the public `Protection.metrics`). */
export interface Definitions {
  readonly calls: Metric.Metric.Counter<number>
  readonly successes: Metric.Metric.Counter<number>
  readonly failures: Metric.Metric.Counter<number>
  readonly rejections: Metric.Metric.Counter<number>
  readonly openBreakers: Metric.Metric.Gauge<number>
}

export type RejectionReason = "open" | "too-many-requests" | "throttled"

export class InstanceMetrics {
  private readonly instance: MetricLabel.MetricLabel
  private lastIn: ReadonlyArray<MetricLabel.MetricLabel> | undefined
  private lastOut: ReadonlyArray<MetricLabel.MetricLabel> = []
  private readonly reasonLabels = new Map<RejectionReason, [ReadonlyArray<MetricLabel.MetricLabel>, ReadonlyArray<MetricLabel.MetricLabel>]>()
  private gaugeValue = Number.NaN
  private gaugeLabels: ReadonlyArray<MetricLabel.MetricLabel> | undefined

  constructor(readonly defs: Definitions, readonly name: string) {
    this.instance = MetricLabel.make("protection", name)
  }

  /** The labels of an update from a fiber whose metric labels are `fiberLabels` (memoised by identity). */
  labels(fiberLabels: ReadonlyArray<MetricLabel.MetricLabel>): ReadonlyArray<MetricLabel.MetricLabel> {
    if (fiberLabels !== this.lastIn) {
      this.lastIn = fiberLabels
      this.lastOut = [this.instance, ...fiberLabels]
    }
    return this.lastOut
  }

  /** Writes the open-breakers gauge when this instance's `count` or the labels changed since its last write. */
  gauge(count: number, labels: ReadonlyArray<MetricLabel.MetricLabel>): void {
    if (this.gaugeValue !== count || this.gaugeLabels !== labels) {
      this.gaugeValue = count
      this.gaugeLabels = labels
      this.defs.openBreakers.unsafeUpdate(count, labels)
    }
  }

  /**
   * Counts a rejection, labelled `protection`, `reason`, then the fiber's labels; `labels` are the
   * instance's labels of the update (from {@link labels}).
   */
  rejection(reason: RejectionReason, labels: ReadonlyArray<MetricLabel.MetricLabel>): void {
    let memo = this.reasonLabels.get(reason)
    if (memo === undefined || memo[0] !== labels) {
      memo = [labels, [this.instance, MetricLabel.make("reason", reason), ...labels.slice(1)]]
      this.reasonLabels.set(reason, memo)
    }
    this.defs.rejections.unsafeUpdate(1, memo[1])
  }
}
