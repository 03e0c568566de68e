/**
 * Calls made in the same turn of the event loop, grouped by a key and answered by one `run`
 * per group: the delivery engine starts a whole lease batch at once, so a lookup per unit becomes
 * one statement per batch (body heads, suppressions; docs/performance.md, distributed mode).
 * Nothing is cached: every call is answered by the `run` of its own turn.
 *
 * Written here rather than with `dataloader`: the key is not the query (calls are grouped by head
 * size or sending domain), and the whole mechanism is these few lines.
 */

interface Pending<Q, R> {
  query: Q;
  resolve: (answer: R) => void;
  reject: (error: unknown) => void;
}

/**
 * A function that queues `(key, query)` until the end of this turn, then calls
 * `run(key, queries)` once per key; `run` answers the queries in their order.
 */
export function batchPerTurn<K, Q, R>(
  run: (key: K, queries: Q[]) => Promise<R[]>,
): (key: K, query: Q) => Promise<R> {
  let waiting = new Map<K, Pending<Q, R>[]>();
  const flush = () => {
    const groups = waiting;
    waiting = new Map();
    for (const [key, pending] of groups) {
      new Promise<R[]>((answer) => answer(run(key, pending.map((p) => p.query)))).then(
        (answers) => pending.forEach((p, i) => p.resolve(answers[i])),
        (error) => pending.forEach((p) => p.reject(error)),
      );
    }
  };
  return (key, query) =>
    new Promise((resolve, reject) => {
      if (waiting.size === 0) setTimeout(flush, 0);
      const group = waiting.get(key) ?? [];
      group.push({ query, resolve, reject });
      waiting.set(key, group);
    });
}
