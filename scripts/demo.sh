#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is needed, builds dfdg, creates a demo database with a synthetic population
# (demo/hub.db, made once and kept), prints ready-to-use tokens and an example curl, and
# serves the hub on http://127.0.0.1:8080 until Ctrl-C.
#   DFDG_DEMO_PERSONS  persons to seed (default 20000)
#   DFDG_DEMO_LISTEN   address to listen on (default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
persons=${DFDG_DEMO_PERSONS:-20000}
listen=${DFDG_DEMO_LISTEN:-127.0.0.1:8080}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target dfdg
dfdg=build/dfdg
db=demo/hub.db
mkdir -p demo
if [ ! -f "$db" ]; then
  "$dfdg" init --db "$db"
  "$dfdg" seed --db "$db" --persons "$persons" --seed 1
fi
# A resident of kommune 101 (København) who is a member of an a-kasse, for the examples.
read -r cpr akasse < <(sqlite3 -separator ' ' "$db" \
  "SELECT p.cpr, r.reporter FROM person p JOIN person_address a USING (person_id)
     JOIN record r ON r.person_id = p.person_id AND r.type = 'akasse-membership'
   WHERE a.kommunekode = '101' AND a.valid_to IS NULL AND r.valid_to IS NULL AND r.kind = 0
     AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id) LIMIT 1;")
k=$("$dfdg" token --db "$db" --org kommune:101 --sub demo-caseworker)
a=$("$dfdg" token --db "$db" --org "${akasse:-akasse:3f}" --sub demo-akasse)
s=$("$dfdg" token --db "$db" --org star --sub demo-analyst)
c=$("$dfdg" token --db "$db" --org citizen --sub demo-citizen --cpr "$cpr")
base="http://$listen"
cat <<MSG

dfdg demo: $db ($persons synthetic persons), serving on $base

Tokens (valid 8 hours; paste these lines into your shell):
export KOMMUNE=$k
export AKASSE=$a
export STAR=$s
export CITIZEN=$c

A synthetic person living in København: $cpr (member of ${akasse:-none})

Try:
  curl -s $base/v1/catalog/akasse-membership
  curl -s -H "Authorization: Bearer \$KOMMUNE" -H "DFDG-Purpose: case-handling" \\
       -H "DFDG-CPR: $cpr" $base/v1/person/records
  curl -s -H "Authorization: Bearer \$KOMMUNE" -H "DFDG-Purpose: case-handling" \\
       -H "Content-Type: application/json" -X POST $base/v1/records \\
       -d '{"type":"absence","cpr":"$cpr","source_ref":"demo-1","valid_from":"$(date +%F)",
            "data":{"absence_type":"10","notification_date":"$(date +%F)"}}'

  curl -s -H "Authorization: Bearer \$AKASSE" -H "DFDG-Purpose: case-handling" \\
       -H "DFDG-CPR: $cpr" $base/v1/person
  curl -s -H "Authorization: Bearer \$CITIZEN" -H "DFDG-Purpose: self-service" \\
       -H "DFDG-CPR: $cpr" $base/v1/person/records

  curl -s -H "Authorization: Bearer \$AKASSE" -H "DFDG-Purpose: case-handling" \\
       "$base/v1/feed?wait=10"
  curl -s -H "Authorization: Bearer \$CITIZEN" -H "DFDG-Purpose: self-service" $base/v1/me/access-log
  curl -s -H "Authorization: Bearer \$STAR" $base/v1/audit/sth

Ctrl-C stops the server; then 'build/dfdg audit verify --db $db' checks the audit log
(README: "Watch it catch tampering").

MSG
exec "$dfdg" serve --db "$db" --listen "$listen"
