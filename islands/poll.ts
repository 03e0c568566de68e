/**
 * The islands' shared refresh loop: fetch `url` now and every `refreshMs`, hand each good answer
 * to `onData`, and say whether the view is live and, if not, why (shown in a role=alert line).
 * Stops when the component unmounts or `deps` change (e.g. the delivery log's pause).
 */
import { useEffect, useState } from "preact/hooks";

/** Live state of a polled view. */
export interface PollState {
  live: boolean;
  problem: string;
}

export function usePolledJson<T>(
  url: string,
  refreshMs: number,
  onData: (body: T) => void,
  deps: unknown[] = [],
  enabled = true,
): PollState {
  const [live, setLive] = useState(false);
  const [problem, setProblem] = useState("");
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    const refresh = async () => {
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (stopped) return;
        if (!response.ok) throw new Error(`the server answered ${response.status}`);
        const body = await response.json() as T;
        if (stopped) return;
        onData(body);
        setLive(true);
        setProblem("");
      } catch (error) {
        if (stopped) return;
        setLive(false);
        setProblem((error as Error).message || "the server cannot be reached");
      }
    };
    const timer = setInterval(refresh, refreshMs);
    refresh();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, deps);
  return { live, problem };
}
