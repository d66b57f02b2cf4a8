#!/usr/bin/env bash
# Records a release for the upgrade tests: the databases its code writes and
# what they answer (chat-test-support/fixtures/upgrade/<release>/), and the
# checksums of the migrations it ships (<store>/released-migrations.sha256).
# Run it once per release, from the repository, with the release's commit:
#
#   scripts/upgrade-fixture.sh <git ref> <release>     e.g. v0.2.0 0.2.0
#
# The release's own code writes its fixtures (from a worktree at <ref>), so
# later releases are always tested against what an earlier one really wrote.
# Needs the PostgreSQL server of the tests (CHAT_TEST_POSTGRES_URL) and
# pg_dump.
set -euo pipefail
ref="${1:?usage: $0 <git ref> <release>}"
release="${2:?usage: $0 <git ref> <release>}"
root="$(git rev-parse --show-toplevel)"
work="$(mktemp -d)"
cleanup() { git -C "$root" worktree remove --force "$work" >/dev/null 2>&1 || true; }
trap cleanup EXIT
git -C "$root" worktree add --detach "$work" "$ref" >/dev/null
out="$root/chat-test-support/fixtures/upgrade/$release"
rm -rf "$out"
(
    cd "$work"
    export CARGO_TARGET_DIR="$root/target/upgrade-fixture"
    cargo run --quiet --locked -p chat-test-support --bin upgrade-fixture -- sqlite "$out/sqlite"
    cargo run --quiet --locked -p chat-test-support --bin upgrade-fixture -- postgres "$out/postgres"
)
for store in chat-store-sqlite chat-store-postgres; do
    (cd "$work/$store/migrations" && sha256sum -- *.sql) >"$root/$store/released-migrations.sha256"
done
echo "recorded $release from $(git -C "$root" rev-parse --short "$ref")"
