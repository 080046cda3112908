/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema_sqlite.h: the SQLite schema as a list of migrations, private to sqlite.c. Migration i
 * (0-based) brings a store from schema version i to i+1; sqlite.c applies the missing ones in
 * one transaction at open and records the result in schema_version. A migration, once
 * released, is never edited: change the schema by appending a new one (and bump
 * DFDG_STORE_SCHEMA_VERSION in store_int.h).
 *
 * Conventions: dates are day numbers since 1970-01-01 (INTEGER), times are microseconds since
 * the epoch (INTEGER); an open end (valid_to absent) is NULL.
 */
#ifndef DFDG_STORE_SCHEMA_SQLITE_H
#define DFDG_STORE_SCHEMA_SQLITE_H

static const char *const dfdg_sqlite_migrations[] = {
    /* v0 -> v1: the initial schema. */
    "CREATE TABLE meta(\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value BLOB NOT NULL\n"
    ");\n"
    "CREATE TABLE org(\n"
    "  org_id TEXT PRIMARY KEY,\n"
    "  kind TEXT NOT NULL,\n"
    "  name TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE issuer(\n"
    "  iss TEXT PRIMARY KEY,\n"
    "  public_key BLOB NOT NULL CHECK(length(public_key) = 32)\n"
    ");\n"
    /* Master data from CPR: replaceable as a whole per person (a CPR import line). */
    "CREATE TABLE person(\n"
    "  person_id INTEGER PRIMARY KEY,\n"
    "  cpr TEXT NOT NULL UNIQUE,\n" /* the current number */
    "  birthdate INTEGER,\n"
    "  sex TEXT,\n"
    "  status TEXT,\n"
    "  first_name TEXT,\n"
    "  middle_name TEXT,\n"
    "  last_name TEXT,\n"
    "  updated_at INTEGER\n"
    ");\n"
    /* Every number a person has had, current and previous, resolves to the person. */
    "CREATE TABLE person_cpr(\n"
    "  cpr TEXT PRIMARY KEY,\n"
    "  person_id INTEGER NOT NULL REFERENCES person\n"
    ");\n"
    "CREATE INDEX person_cpr_person ON person_cpr(person_id);\n"
    "CREATE TABLE person_address(\n"
    "  person_id INTEGER NOT NULL REFERENCES person,\n"
    "  kommunekode TEXT NOT NULL,\n"
    "  road TEXT,\n"
    "  house TEXT,\n"
    "  postcode TEXT,\n"
    "  city TEXT,\n"
    "  valid_from INTEGER NOT NULL,\n"
    "  valid_to INTEGER NULL\n" /* exclusive: the day the person moved away */
    ");\n"
    "CREATE INDEX person_address_person ON person_address(person_id, valid_from);\n"
    "CREATE TABLE person_protection(\n"
    "  person_id INTEGER NOT NULL REFERENCES person,\n"
    "  valid_from INTEGER NOT NULL,\n"
    "  valid_to INTEGER NULL\n" /* exclusive */
    ");\n"
    "CREATE INDEX person_protection_person ON person_protection(person_id, valid_from);\n"
    "CREATE TABLE person_child(\n"
    "  person_id INTEGER NOT NULL REFERENCES person,\n"
    "  birthdate INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX person_child_person ON person_child(person_id);\n"
    /*
     * Records: append-only and bitemporal. valid_to is inclusive (NULL = open); recorded_at is
     * the transaction time. A correction (kind 1) or cancellation (kind 2) names the record it
     * supersedes or withdraws in target_id; an original (kind 0) has none.
     */
    "CREATE TABLE record(\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  id TEXT NOT NULL UNIQUE,\n"
    "  type TEXT NOT NULL,\n"
    "  person_id INTEGER NULL REFERENCES person,\n"
    "  cvr TEXT NULL,\n"
    "  reporter TEXT NOT NULL,\n"
    /* The reporter of the chain's original: it may correct and cancel the chain, and an
     * akasse-membership chain is that a-kasse's membership whoever corrected it. */
    "  owner TEXT NOT NULL,\n"
    "  source_ref TEXT NOT NULL,\n"
    "  valid_from INTEGER NOT NULL,\n"
    "  valid_to INTEGER NULL,\n"
    "  recorded_at INTEGER NOT NULL,\n"
    /* BETWEEN, not IN (0, 1, 2): SQLite builds an ephemeral table for IN on every insert. */
    "  kind INTEGER NOT NULL CHECK(kind BETWEEN 0 AND 2),\n"
    "  target_id TEXT NULL,\n"
    "  content_hash BLOB NOT NULL CHECK(length(content_hash) = 32),\n"
    "  data TEXT NOT NULL,\n"
    "  reason TEXT NULL,\n"
    "  UNIQUE(reporter, source_ref),\n"
    "  CHECK((kind = 0) = (target_id IS NULL))\n"
    ");\n"
    /* A person's records by type and valid time (reads, access checks). */
    "CREATE INDEX record_person_type ON record(person_id, type, valid_from);\n"
    /* "Has this record been superseded as known at T?" */
    "CREATE INDEX record_target ON record(target_id, recorded_at) WHERE target_id IS NOT NULL;\n"
    /* Statistics scans: records of a type valid in a period (DESIGN section 8). */
    "CREATE INDEX record_type_valid ON record(type, valid_from);\n"
    /* Records are never updated in place. */
    "CREATE TRIGGER record_no_update BEFORE UPDATE ON record\n"
    "BEGIN SELECT RAISE(ABORT, 'records are append-only: no update'); END;\n"
    /*
     * Records are never deleted in place either. The retention feature (records past their
     * type's retention_years) will drop this trigger in a migration of its own.
     */
    "CREATE TRIGGER record_no_delete BEFORE DELETE ON record\n"
    "BEGIN SELECT RAISE(ABORT, 'records are append-only: no delete'); END;\n",

    /*
     * v1 -> v2: deliveries (records routed to recipients' feeds) and disclosures.
     *
     * A delivery puts a record in one org's feed; a record reaches an org at most once. seq is
     * the feed cursor and must grow in commit order, or a client that has read up to seq N
     * could miss a delivery committed later with a smaller seq. Here seq is the rowid (plain
     * INTEGER PRIMARY KEY, max(rowid) + 1 at insert): SQLite has one writer at a time, so
     * insert order is commit order, and as deliveries are never deleted no rowid is reused
     * (AUTOINCREMENT would add a write to sqlite_sequence per insert and buy nothing). A
     * PostgreSQL backend must not copy this: its sequences hand out numbers at insert time to
     * concurrent transactions that may commit in another order, so it has to serialise the
     * writers of deliveries (one writer, or a lock held to commit) or assign seq at commit.
     */
    "CREATE TABLE delivery(\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  org_id TEXT NOT NULL,\n"
    "  record_id TEXT NOT NULL REFERENCES record(id),\n"
    /* ORs, not IN (...): SQLite builds an ephemeral table for IN on every insert (measured:
     * 200,000 inserts in 0.46 s with ORs, 0.85 s with IN). */
    "  reason TEXT NOT NULL CHECK(reason = 'residence' OR reason = 'membership'\n"
    "    OR reason = 'referral' OR reason = 'all' OR reason = 'handover'),\n"
    "  created_at INTEGER NOT NULL,\n"
    "  UNIQUE(record_id, org_id)\n" /* also answers "where did this record go?" */
    ");\n"
    /* An org's feed after a cursor. */
    "CREATE INDEX delivery_org_seq ON delivery(org_id, seq);\n"
    "CREATE TRIGGER delivery_no_update BEFORE UPDATE ON delivery\n"
    "BEGIN SELECT RAISE(ABORT, 'deliveries are append-only: no update'); END;\n"
    "CREATE TRIGGER delivery_no_delete BEFORE DELETE ON delivery\n"
    "BEGIN SELECT RAISE(ABORT, 'deliveries are append-only: no delete'); END;\n"
    /*
     * A disclosure: personal data handed to someone (org, user), for a purpose, on a legal
     * basis, through a channel. person_id is NULL for company data; record_id and type are
     * NULL when the disclosure is not of one record. The audit log builds on these.
     */
    "CREATE TABLE disclosure(\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  at INTEGER NOT NULL,\n"
    "  org_id TEXT NOT NULL,\n"
    "  sub TEXT NOT NULL,\n"
    "  person_id INTEGER NULL,\n"
    "  record_id TEXT NULL,\n"
    "  type TEXT NULL,\n"
    "  purpose TEXT NOT NULL,\n"
    "  legal_basis TEXT NOT NULL,\n"
    "  channel TEXT NOT NULL\n"
    ");\n"
    /* The citizen's access log: who saw my data, newest first (GDPR art. 15). */
    "CREATE INDEX disclosure_person_at ON disclosure(person_id, at);\n"
    "CREATE TRIGGER disclosure_no_update BEFORE UPDATE ON disclosure\n"
    "BEGIN SELECT RAISE(ABORT, 'disclosures are append-only: no update'); END;\n"
    "CREATE TRIGGER disclosure_no_delete BEFORE DELETE ON disclosure\n"
    "BEGIN SELECT RAISE(ABORT, 'disclosures are append-only: no delete'); END;\n",

    /*
     * v2 -> v3: the audit log, a Merkle tree (RFC 9162) whose hashing and proofs live in
     * src/audit.
     *
     * audit_entry holds the leaves: idx is the leaf index as the writer gives it (0, 1, 2, ...),
     * not a rowid SQLite picks, and entry the leaf's canonical bytes, kept as a BLOB so they come
     * back byte for byte. audit_subject names the persons an entry concerns, for the citizen's
     * access log (newest first by idx). audit_node caches the hashes of perfect subtrees (level
     * 0: leaf hashes), each written once. audit_sth holds the signed tree heads.
     *
     * Deliberately no UPDATE/DELETE triggers here, unlike record, delivery and disclosure: the
     * audit log's protection is cryptographic, not a trigger that anyone with raw access to the
     * database can drop. A verifier recomputes the hashes from the entries and checks them
     * against the signed tree heads, so tampering by such a person is detected; the tests
     * tamper with these tables directly to show it.
     */
    "CREATE TABLE audit_entry(\n"
    "  idx INTEGER PRIMARY KEY,\n"
    "  at INTEGER NOT NULL,\n"
    "  entry BLOB NOT NULL\n"
    ");\n"
    "CREATE TABLE audit_subject(\n"
    "  person_id INTEGER NOT NULL,\n"
    "  idx INTEGER NOT NULL,\n"
    "  PRIMARY KEY(person_id, idx)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE audit_node(\n"
    "  level INTEGER NOT NULL,\n"
    "  idx INTEGER NOT NULL,\n"
    "  hash BLOB NOT NULL CHECK(length(hash) = 32),\n"
    "  PRIMARY KEY(level, idx)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE audit_sth(\n"
    "  size INTEGER PRIMARY KEY,\n"
    "  at INTEGER NOT NULL,\n"
    "  root BLOB NOT NULL CHECK(length(root) = 32),\n"
    "  sig BLOB NOT NULL CHECK(length(sig) = 64)\n"
    ");\n",

    /*
     * v3 -> v4: retention (records past their type's retention_years, by the end of their
     * chain) may delete records and their deliveries; nothing else may.
     *
     * SQLite has no session variables, so the permission is a row: a DELETE on record or
     * delivery is refused unless meta holds the key 'retention_delete'. The store inserts that
     * row, deletes one chain and removes the row again inside a single call under a savepoint
     * (sqlite.c, chain_delete), so the row is never committed and no other connection ever sees
     * it: every other DELETE, ours by mistake or a DBA's in the sqlite3 shell, is still refused.
     * Like the triggers before, this guards against accidents, not against someone with raw
     * write access (who could drop a trigger); the audit log accounts for every retention run.
     * UPDATE stays refused outright, and disclosures stay undeletable: they are the record of
     * what was handed out, and keep the id of a deleted record as a dangling reference (there is
     * no foreign key from disclosure to record).
     *
     * record_ended_cancel finds the chains withdrawn by a cancellation recorded before a day
     * without reading the type's whole history; a cancellation inherits its target's valid
     * time, so record_type_valid cannot find them by when they ended. Cancellations are few, so
     * the partial index costs little on the write path.
     */
    "DROP TRIGGER record_no_delete;\n"
    "CREATE TRIGGER record_no_delete BEFORE DELETE ON record\n"
    "WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'retention_delete')\n"
    "BEGIN SELECT RAISE(ABORT, 'records are append-only: no delete outside retention'); END;\n"
    "DROP TRIGGER delivery_no_delete;\n"
    "CREATE TRIGGER delivery_no_delete BEFORE DELETE ON delivery\n"
    "WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'retention_delete')\n"
    "BEGIN SELECT RAISE(ABORT, 'deliveries are append-only: no delete outside retention'); END;\n"
    "CREATE INDEX record_ended_cancel ON record(type, recorded_at) WHERE kind = 2;\n",
};

#endif
