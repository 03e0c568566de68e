/** The delivery log page. */
import type { VNode } from "preact";
import type { AttemptRow } from "../../core/store/mod.ts";
import { AttemptsTable } from "../_components/attempts_table.tsx";
import { Layout } from "../_components/layout.tsx";

/** Newest attempts first. */
export function AttemptsPage(props: { attempts: AttemptRow[] }): VNode {
  return (
    <Layout title="Delivery log">
      <h1 class="text-2xl font-bold mb-4">Delivery log</h1>
      <AttemptsTable attempts={props.attempts} />
    </Layout>
  );
}
