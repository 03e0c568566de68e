/** The console's styled error pages: not found, forbidden, and a failure (no stack shown). */
import type { VNode } from "preact";
import { Layout } from "./layout.tsx";

/** A page saying what went wrong, with a way back. */
export function ErrorPage(props: { status: number; title: string; detail: string }): VNode {
  return (
    <Layout title={props.title}>
      <div class="max-w-xl mx-auto mt-12 bg-white shadow rounded p-6" role="alert">
        <p class="text-sm text-gray-600">Error {props.status}</p>
        <h1 class="text-2xl font-bold mb-2">{props.title}</h1>
        <p class="text-gray-700 mb-4">{props.detail}</p>
        <a href="/" class="text-blue-700 underline">Back to the dashboard</a>
      </div>
    </Layout>
  );
}
