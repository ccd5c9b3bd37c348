#!/usr/bin/env node
// The GraphQL door with the clients web developers actually use, unmodified, in Node:
// Apollo Client (HttpLink + GraphQLWsLink over graphql-ws) and urql (@urql/core with
// fetchExchange + subscriptionExchange over graphql-ws). Each runs a query, a mutation
// and the `events` subscription against a real server. Driven by tests/e2e/test_js_clients.py:
//
//   node tests/e2e/web/js_clients.mjs '{"baseUrl": "http://127.0.0.1:PORT"}'
//
// Prints one JSON line: {ok, apollo: {...}, urql: {...}, error}.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as H from "./harness.mjs";

const { baseUrl } = JSON.parse(process.argv[2] || "{}");
const wsUrl = baseUrl.replace(/^http/, "ws") + "/graphql";
const depsRequire = createRequire(H.depFile("../package.json"));
const load = (name) => import(pathToFileURL(depsRequire.resolve(name)).href);

const EVENTS = `subscription Events {
  events(input: {holdUntilReady: true}) {
    __typename
    ... on ChannelEvent { channelId pts }
    ... on MessageEvent { message { id clientMsgId content { ... on TextContent { text } } } }
  }
}`;
const PROFILE = `query Me { accountProfileGet { profile { id username } } }`;
const SEND = `mutation Send($input: MessageSendInput!) { messageSend(input: $input) { message { id pts channelId } } }`;
const READY = `mutation Ready { syncSessionReady { ok } }`;

function withTimeout(promise, ms, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))]);
}

/** possibleTypes for Apollo's cache, from the server's schema (what Apollo's docs advise). */
async function possibleTypes(token) {
  const data = await H.gql(baseUrl, `{ __schema { types { kind name possibleTypes { name } } } }`, {}, token);
  const out = {};
  for (const t of data.__schema.types) if (t.possibleTypes) out[t.name] = t.possibleTypes.map((p) => p.name);
  return out;
}

async function apollo(sender, receiver, channelId) {
  const { ApolloClient, InMemoryCache, HttpLink, split, gql } = await load("@apollo/client");
  const { GraphQLWsLink } = await load("@apollo/client/link/subscriptions");
  const { getMainDefinition } = await load("@apollo/client/utilities");
  const { createClient } = await load("graphql-ws");
  const WebSocket = (await load("ws")).default;

  const makeClient = async (user) => {
    const ws = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${user.token}` } });
    const link = split(
      ({ query }) => {
        const def = getMainDefinition(query);
        return def.kind === "OperationDefinition" && def.operation === "subscription";
      },
      new GraphQLWsLink(ws),
      new HttpLink({ uri: `${baseUrl}/graphql`, headers: { authorization: `Bearer ${user.token}` } }),
    );
    const client = new ApolloClient({ link, cache: new InMemoryCache({ possibleTypes: await possibleTypes(user.token) }) });
    return { client, ws };
  };
  const rx = await makeClient(receiver);
  const tx = await makeClient(sender);
  try {
    const me = await rx.client.query({ query: gql(PROFILE) });
    const received = new Promise((resolve, reject) => {
      const sub = rx.client.subscribe({ query: gql(EVENTS) }).subscribe({
        next: ({ data }) => {
          if (data?.events?.__typename === "MessageEvent") {
            sub.unsubscribe();
            resolve(data.events);
          }
        },
        error: reject,
      });
    });
    // The subscription holds until the device says it is ready (docs/SYNC.md).
    await new Promise((resolve) => setTimeout(resolve, 300));
    await rx.client.mutate({ mutation: gql(READY) });
    const sent = await tx.client.mutate({
      mutation: gql(SEND),
      variables: { input: { channelId, clientMsgId: "apollo-1", content: { text: { text: "hello from Apollo" } } } },
    });
    const event = await withTimeout(received, 10_000, "Apollo subscription event");
    return {
      query: me.data.accountProfileGet.profile.username,
      mutation: sent.data.messageSend.message,
      event: { typename: event.__typename, pts: event.pts, channelId: event.channelId, text: event.message.content.text },
    };
  } finally {
    await rx.ws.dispose();
    await tx.ws.dispose();
  }
}

async function urql(sender, receiver, channelId) {
  const { Client, fetchExchange, subscriptionExchange, gql } = await load("@urql/core");
  const { createClient } = await load("graphql-ws");
  const WebSocket = (await load("ws")).default;

  const makeClient = (user) => {
    const ws = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${user.token}` } });
    const client = new Client({
      url: `${baseUrl}/graphql`,
      fetchOptions: () => ({ headers: { authorization: `Bearer ${user.token}` } }),
      exchanges: [
        fetchExchange,
        subscriptionExchange({
          forwardSubscription(request) {
            const input = { ...request, query: request.query || "" };
            return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
          },
        }),
      ],
    });
    return { client, ws };
  };
  const rx = makeClient(receiver);
  const tx = makeClient(sender);
  try {
    const me = await rx.client.query(gql(PROFILE), {}).toPromise();
    if (me.error) throw me.error;
    const received = new Promise((resolve) => {
      const { unsubscribe } = rx.client.subscription(gql(EVENTS), {}).subscribe((result) => {
        if (result.data?.events?.__typename === "MessageEvent") {
          unsubscribe();
          resolve(result.data.events);
        }
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ready = await rx.client.mutation(gql(READY), {}).toPromise();
    if (ready.error) throw ready.error;
    const sent = await tx.client.mutation(gql(SEND), {
      input: { channelId, clientMsgId: "urql-1", content: { text: { text: "hello from urql" } } },
    }).toPromise();
    if (sent.error) throw sent.error;
    const event = await withTimeout(received, 10_000, "urql subscription event");
    return {
      query: me.data.accountProfileGet.profile.username,
      mutation: sent.data.messageSend.message,
      event: { typename: event.__typename, pts: event.pts, channelId: event.channelId, text: event.message.content.text },
    };
  } finally {
    await rx.ws.dispose();
    await tx.ws.dispose();
  }
}

async function main() {
  const ann = await H.apiUser(baseUrl, "jsann", "Ann");
  const bob = await H.apiUser(baseUrl, "jsbob", "Bob");
  const channelId = await H.befriend(baseUrl, ann, bob);
  const report = { ok: false, channelId };
  try {
    report.apollo = await apollo(ann, bob, channelId);
    report.urql = await urql(ann, bob, channelId);
    report.ok = true;
  } catch (err) {
    report.error = String(err?.stack || err);
  }
  process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err?.stack || err) }) + "\n");
  process.exit(2);
});
