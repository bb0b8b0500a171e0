#!/usr/bin/env bash
# Copies the production builds of GraphiQL, React and ReactDOM that the
# gateway embeds from node_modules (installed by `npm ci` from
# package-lock.json, which pins their exact versions) into assets/graphiql/.
# Run it after changing one of those versions in package.json, and commit the
# result: the build embeds the committed files and never needs npm or the
# network.
#
# The files are copied unchanged except for their trailing sourceMappingURL
# comment, which is removed because the source maps are not shipped and a
# browser's developer tools would otherwise ask the gateway for them.
set -euo pipefail
cd "$(dirname "$0")/.."

version() {
  node -p "require('./node_modules/$1/package.json').version"
}

graphiql_version=$(version graphiql)
react_version=$(version react)
react_dom_version=$(version react-dom)
target=assets/graphiql

copy() {
  sed -e '/^\/[\/*]# sourceMappingURL=/d' "$1" > "$2"
  echo "$1 -> $2"
}

rm -f "$target"/graphiql-*.min.js "$target"/graphiql-*.min.css \
  "$target"/react-*.production.min.js "$target"/react-dom-*.production.min.js
copy node_modules/react/umd/react.production.min.js \
  "$target/react-$react_version.production.min.js"
copy node_modules/react-dom/umd/react-dom.production.min.js \
  "$target/react-dom-$react_dom_version.production.min.js"
copy node_modules/graphiql/graphiql.min.js "$target/graphiql-$graphiql_version.min.js"
copy node_modules/graphiql/graphiql.min.css "$target/graphiql-$graphiql_version.min.css"
echo "update the file names in src/graphiql.rs and assets/graphiql/index.html if a version changed"
