import cliProgress from 'cli-progress';

/** A download progress bar on stderr, created on the first report so cached models print nothing. */
export function progressBar(label: string): (received: number, total: number | undefined) => void {
  let bar: cliProgress.SingleBar | undefined;
  return (received, total) => {
    if (!bar) {
      bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% {value}/{total} MiB`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total ? Math.ceil(total / 2 ** 20) : 0, 0);
    }
    bar.update(Math.floor(received / 2 ** 20));
    if (total !== undefined && received >= total) bar.stop();
  };
}
