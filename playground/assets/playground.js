// playground.js renders GraphiQL full-page into the element #playground. It
// is served by the Go package playground, which renders that element with
// these data attributes:
//
//   data-title      shown as GraphiQL's logo text;
//   data-endpoint   path of the GraphQL endpoint, such as "/graphql";
//   data-endpoints  optional JSON list of {"name", "endpoint"} objects. With
//                   more than one, a picker above GraphiQL switches between
//                   them; the first is selected initially.
//
// The page's Content-Security-Policy forbids inline script, so this file
// holds everything that would usually be inline.
(function () {
  'use strict';

  const h = React.createElement;
  const root = document.getElementById('playground');
  const title = root.dataset.title || 'GraphiQL';
  const endpoints = parseEndpoints(root.dataset);

  // parseEndpoints returns the endpoint list from the data attributes,
  // falling back to the single data-endpoint.
  function parseEndpoints(data) {
    let list = [];
    try {
      list = JSON.parse(data.endpoints || '[]');
    } catch (err) {
      console.error('playground: bad data-endpoints:', err);
    }
    list = list.filter((e) => e && typeof e.endpoint === 'string');
    if (list.length === 0) {
      const path = data.endpoint || '/graphql';
      list = [{ name: path, endpoint: path }];
    }
    return list;
  }

  // fetcherFor returns a GraphiQL fetcher for an endpoint path. The path is
  // resolved against the page's own origin, so the playground works behind
  // any host name.
  function fetcherFor(path) {
    return GraphiQL.createFetcher({ url: new URL(path, location.origin).href });
  }

  function Playground() {
    const [index, setIndex] = React.useState(0);
    const fetcher = React.useMemo(() => fetcherFor(endpoints[index].endpoint), [index]);

    let picker = null;
    if (endpoints.length > 1) {
      const options = endpoints.map((e, i) => h('option', { key: i, value: i }, e.name || e.endpoint));
      const onChange = (event) => setIndex(Number(event.target.value));
      picker = h('label', { className: 'playground-picker' },
        'Endpoint ',
        h('select', { value: index, onChange: onChange }, options));
    }

    // The key re-mounts GraphiQL on a switch, so that the schema, the
    // documentation and the results of the old endpoint are dropped.
    return h('div', { className: 'playground' },
      picker,
      h('div', { className: 'playground-graphiql' },
        h(GraphiQL, { key: index, fetcher: fetcher }, h(GraphiQL.Logo, null, title))));
  }

  ReactDOM.createRoot(root).render(h(Playground));
})();
