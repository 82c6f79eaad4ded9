#!/usr/bin/env bash
# fetch-assets.sh re-downloads the vendored GraphiQL, React and ReactDOM
# browser bundles pinned in assets/VERSIONS from the npm registry, checks
# each tarball against its pinned dist.integrity and copies the bundles and
# the packages' LICENSE files into assets/.
#
# It needs npm and node and is run by hand when upgrading; neither the build
# nor the tests run it. After running it, `git diff --stat assets` should be
# empty unless VERSIONS was edited.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
assets="$here/assets"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# files prints "source-in-tarball destination-in-assets" pairs for a package.
files() {
	case "$1" in
	graphiql)
		echo "package/graphiql.min.js graphiql.min.js"
		echo "package/graphiql.min.css graphiql.min.css"
		;;
	react)
		echo "package/umd/react.production.min.js react.production.min.js"
		;;
	react-dom)
		echo "package/umd/react-dom.production.min.js react-dom.production.min.js"
		;;
	*)
		echo "fetch-assets.sh: no file list for package $1" >&2
		exit 1
		;;
	esac
}

# integrity prints the npm-style sha512 integrity string of a file.
integrity() {
	node -e '
		const data = require("fs").readFileSync(process.argv[1]);
		const sum = require("crypto").createHash("sha512").update(data).digest("base64");
		console.log("sha512-" + sum);
	' "$1"
}

pins="$(grep -v -e '^#' -e '^[[:space:]]*$' "$assets/VERSIONS")"

# Download and check every tarball before copying anything, so that a
# mismatch leaves assets/ untouched.
while read -r spec want; do
	dir="$tmp/${spec%@*}"
	mkdir -p "$dir"
	tgz="$(cd "$dir" && npm pack "$spec" --silent)"
	got="$(integrity "$dir/$tgz")"
	if [ "$got" != "$want" ]; then
		echo "fetch-assets.sh: $spec: integrity mismatch" >&2
		echo "  want $want" >&2
		echo "  got  $got" >&2
		exit 1
	fi
	tar -xzf "$dir/$tgz" -C "$dir"
done <<<"$pins"

while read -r spec _; do
	name="${spec%@*}"
	dir="$tmp/$name"
	files "$name" | while read -r src dst; do
		cp "$dir/$src" "$assets/$dst"
		echo "$spec: $src -> assets/$dst"
	done
	cp "$dir/package/LICENSE" "$assets/licenses/$name.LICENSE"
	echo "$spec: package/LICENSE -> assets/licenses/$name.LICENSE"
done <<<"$pins"
