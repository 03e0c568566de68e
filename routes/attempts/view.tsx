/** The delivery log page: filters (in the URL, so a filtered tail can be shared) and the tail. */
import type { VNode } from "preact";
import { AttemptsTail, type TailAttempt, type TailFilter } from "../../islands/attempts_tail.tsx";
import { Island } from "../_components/island.tsx";
import { Layout } from "../_components/layout.tsx";
import { CaptionedControl } from "../_components/field.tsx";

const OUTCOMES = ["delivered", "deferred", "failed", "suppressed", "tried"];

/** Newest attempts first, following new ones live. */
export function AttemptsPage(props: { attempts: TailAttempt[]; filter: TailFilter }): VNode {
  return (
    <Layout title="Delivery log">
      <h1 class="text-2xl font-bold mb-4">Delivery log</h1>
      <form method="get" action="/attempts" class="flex flex-wrap gap-3 items-end mb-4">
        <CaptionedControl label="Recipient, message, MX or reply">
          <input
            name="q"
            value={props.filter.q ?? ""}
            class="border rounded px-2 py-1"
            type="search"
          />
        </CaptionedControl>
        <CaptionedControl label="Outcome">
          <select name="outcome" class="border rounded px-2 py-1">
            <option value="">(any)</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o} selected={o === props.filter.outcome}>{o}</option>
            ))}
          </select>
        </CaptionedControl>
        <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
          Filter
        </button>
      </form>
      <Island name="AttemptsTail" props={{ initial: props.attempts, filter: props.filter }}>
        <AttemptsTail initial={props.attempts} filter={props.filter} />
      </Island>
    </Layout>
  );
}
