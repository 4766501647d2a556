/** One figure of `npm run bench`: ours, and where one exists, its reference measured in the same run. */
export interface BenchRow {
  readonly figure: string;
  readonly ours: number;
  readonly reference?: number;
  readonly referenceName?: string;
  readonly unit: string;
}
