/*
 * Boots PrivChat's self-hosted GraphiQL (see index.html).
 *
 * Reads {"graphqlPath": "/graphql"} from the #graphiql-config JSON block, builds the
 * absolute http(s) and ws(s) endpoint URLs from window.location, and renders GraphiQL
 * with a fetcher that sends queries/mutations over HTTP and subscriptions over
 * graphql-ws (graphql-transport-ws protocol).
 *
 * The WebSocket has no headers, so the Authorization header typed into GraphiQL's
 * headers editor is forwarded as connection_init payload {"authorization": "..."};
 * when it changes, the WebSocket client is recreated so the next subscription
 * authenticates with the new value.
 *
 * Globals used: React, ReactDOM (React 18 UMD), graphqlWs (graphql-ws UMD), GraphiQL.
 */
(function () {
  "use strict";

  var mount = document.getElementById("graphiql");
  var configElement = document.getElementById("graphiql-config");
  var config = JSON.parse((configElement && configElement.textContent) || "{}");
  var graphqlPath = typeof config.graphqlPath === "string" ? config.graphqlPath : "/graphql";

  var loc = window.location;
  var httpUrl = loc.protocol + "//" + loc.host + graphqlPath;
  var wsUrl = (loc.protocol === "https:" ? "wss:" : "ws:") + "//" + loc.host + graphqlPath;

  function authorizationFrom(headers) {
    if (!headers || typeof headers !== "object") {
      return undefined;
    }
    for (var name in headers) {
      if (Object.prototype.hasOwnProperty.call(headers, name) && name.toLowerCase() === "authorization") {
        var value = headers[name];
        return value === undefined || value === null || value === "" ? undefined : String(value);
      }
    }
    return undefined;
  }

  var currentAuthorization;
  var wsClient = null;
  var fetcher = null;

  function rebuild(authorization) {
    if (wsClient) {
      wsClient.dispose();
    }
    wsClient = graphqlWs.createClient({
      url: wsUrl,
      lazy: true,
      retryAttempts: 3,
      connectionParams: function () {
        return authorization ? { authorization: authorization } : {};
      },
    });
    fetcher = GraphiQL.createFetcher({
      url: httpUrl,
      subscriptionUrl: wsUrl,
      wsClient: wsClient,
    });
    currentAuthorization = authorization;
  }

  rebuild(undefined);

  function privchatFetcher(graphQLParams, fetcherOpts) {
    var authorization = authorizationFrom(fetcherOpts && fetcherOpts.headers);
    if (authorization !== currentAuthorization) {
      rebuild(authorization);
    }
    return fetcher(graphQLParams, fetcherOpts);
  }

  var root = ReactDOM.createRoot(mount);
  root.render(
    React.createElement(GraphiQL, {
      fetcher: privchatFetcher,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
    })
  );
})();
