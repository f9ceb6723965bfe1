// What hl-local keeps, in the top bar: the file's size against --max-size, and how far back the data
// goes against --max-age (GET /api/stats `retention`; refreshed every 30 s).
import { useEffect, useState } from "preact/hooks";
import { type RetentionInfo, getApi } from "../api";
import { dateTime } from "../format";

const REFRESH_MS = 30_000;

export function Storage() {
  const [kept, setKept] = useState<RetentionInfo | null>(null);
  useEffect(() => {
    let alive = true;
    const load = () =>
      getApi("/api/stats", {})
        .then((stats) => alive && setKept(stats.retention))
        .catch(() => undefined);
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, []);
  if (!kept) return null;
  const size = kept.file_bytes === null ? "in memory" : bytes(kept.file_bytes);
  const cap = kept.max_size_bytes ? ` of ${bytes(kept.max_size_bytes)}` : "";
  const oldest = kept.oldest_received_ns === null ? "nothing stored" : `since ${dateTime(kept.oldest_received_ns / 1e6)}`;
  const age = kept.max_age_s ? `kept ${days(kept.max_age_s)}` : "kept until pruned by size";
  const pruned = kept.last_pruned_ns ? `; last pruned ${dateTime(kept.last_pruned_ns / 1e6)}` : "";
  return (
    <span class="storage" title={`On disk: ${size}${cap}. Oldest item received ${oldest.replace("since ", "")}; ${age}${pruned}. (hl-local --max-size, --max-age; hl-local prune)`}>
      {size}
      {cap} · {oldest}
    </span>
  );
}

function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${Math.round(n / 1024 ** 2)} MiB`;
  return `${Math.max(1, Math.round(n / 1024))} KiB`;
}

function days(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hours`;
  return `${seconds} s`;
}
