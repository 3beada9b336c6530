#include "journal.h"

#include <arpa/inet.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>

#include <spdlog/spdlog.h>

namespace eck::broker {
namespace {

// Built-in type OIDs (pg_type.dat; stable across versions).
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;
constexpr Oid kUuidOid = 2950;

const char* const kEventIdConstraint = "journal_event_id_key";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string conn_error(PGconn* c) { return one_line(c ? PQerrorMessage(c) : "no connection"); }

std::string result_error(const PGresult* r) {
  std::string msg = one_line(PQresultErrorMessage(r));
  if (const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE))
    msg += " (SQLSTATE " + std::string(state) + ")";
  return msg;
}

void notice_to_log(void*, const char* message) {
  spdlog::warn("journal database: {}", one_line(message));
}

// --- binary parameter encoding ---------------------------------------------------

void put32(std::string& b, std::uint32_t v) {
  v = htonl(v);
  b.append(reinterpret_cast<const char*>(&v), 4);
}

void put64(std::string& b, std::uint64_t v) {
  put32(b, static_cast<std::uint32_t>(v >> 32));
  put32(b, static_cast<std::uint32_t>(v));
}

std::uint64_t load64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// One-dimensional array without NULLs in PostgreSQL's binary format
// (array_recv): ndim, has-null flag, element type, length, lower bound, then
// each element as length + bytes.
class ArrayParam {
 public:
  void start(Oid element) {
    buf_.clear();
    count_ = 0;
    put32(buf_, 1);
    put32(buf_, 0);
    put32(buf_, element);
    put32(buf_, 0);  // length, set by finish()
    put32(buf_, 1);
  }
  void add(const char* p, std::size_t n) {
    put32(buf_, static_cast<std::uint32_t>(n));
    buf_.append(p, n);
    ++count_;
  }
  void add(std::string_view s) { add(s.data(), s.size()); }
  void add_int8(std::uint64_t v) {
    put32(buf_, 8);
    put64(buf_, v);
    ++count_;
  }
  const std::string& finish() {
    const std::uint32_t n = htonl(count_);
    std::memcpy(buf_.data() + 12, &n, 4);
    return buf_;
  }
  void trim() {
    if (buf_.capacity() > (8u << 20)) std::string().swap(buf_);
  }

 private:
  std::string buf_;
  std::uint32_t count_ = 0;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The 16 bytes of a canonical 8-4-4-4-12 UUID (either case).
struct Uuid {
  char bytes[16];
  bool operator==(const Uuid& o) const { return std::memcmp(bytes, o.bytes, 16) == 0; }
};

struct UuidHash {
  std::size_t operator()(const Uuid& u) const {
    std::uint64_t a, b;
    std::memcpy(&a, u.bytes, 8);
    std::memcpy(&b, u.bytes + 8, 8);
    return static_cast<std::size_t>((a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull >> 7);
  }
};

bool parse_uuid(std::string_view s, Uuid& out) {
  if (s.size() != 36) return false;
  int k = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
      ++i;
      continue;
    }
    const int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.bytes[k++] = static_cast<char>(hi << 4 | lo);
    i += 2;
  }
  return true;
}

// Prepared once per session.
const char* const kBegin = "eck_begin";
const char* const kCommit = "eck_commit";
const char* const kRollback = "eck_rollback";
const char* const kInsert = "eck_insert";
const char* const kTopics = "eck_topics";
const char* const kKnown = "eck_known";

struct Statement {
  const char* name;
  const char* sql;
};
const Statement kStatements[] = {
    {kBegin, "BEGIN"},
    {kCommit, "COMMIT"},
    {kRollback, "ROLLBACK"},
    {kInsert,
     "INSERT INTO journal (seq, event_id, topic, prev_topic_seq, envelope) "
     "SELECT * FROM unnest($1::int8[], $2::uuid[], $3::text[], $4::int8[], $5::bytea[])"},
    {kTopics,
     "INSERT INTO topic_head (topic, last_seq) SELECT * FROM unnest($1::text[], $2::int8[]) "
     "ON CONFLICT (topic) DO UPDATE SET last_seq = EXCLUDED.last_seq"},
    {kKnown, "SELECT event_id, seq FROM journal WHERE event_id = ANY($1::uuid[])"},
};

}  // namespace

// The batch in flight and the scratch space of its planning, kept between
// batches so a steady stream of batches allocates next to nothing.
struct Journal::Work {
  const std::vector<Publish>* batch = nullptr;  // in flight; null when idle
  std::vector<Appended> out;
  bool careful = false;                                   // second attempt, after a lookup
  std::vector<Uuid> ids;                                  // per publish
  std::vector<std::size_t> fresh;                         // publishes to insert, in seq order
  std::unordered_map<Uuid, std::size_t, UuidHash> first;  // id -> first publish with it
  std::unordered_map<std::string_view, std::uint64_t> changed;  // topic -> its new head
  std::unordered_map<Uuid, std::uint64_t, UuidHash> known;      // journaled before (lookup)
  std::uint64_t head = 0;                                       // tentative
  ArrayParam seq, id, topic, prev, env, ttopic, tseq;
  // Reading the pipeline's results.
  int sent = 0;       // statements sent
  int answered = 0;   // statements whose result (and terminating NULL) was read
  bool want_null = false;
  bool duplicate = false, committed = false;
  std::string error;
};

Journal::Journal(Database& db) : db_(db), work_(std::make_unique<Work>()) {}

Journal::~Journal() { close(); }

void Journal::close() {
  // A session that was the writer may live on in the server after we let
  // go of it (blocked, or its client side died first) and keep the writer
  // lock: remembered so the next try_open() can end it.
  if (open_) previous_session_ = session_;
  open_ = false;
  work_->batch = nullptr;
  if (conn_) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

void Journal::fail(const std::string& what) {
  close();
  throw JournalError(what);
}

void Journal::reset() {
  close();
  db_.reset();
}

bool Journal::busy() const { return work_->batch != nullptr; }

int Journal::socket() const { return conn_ ? PQsocket(conn_) : -1; }

bool Journal::try_open() {
  close();
  const DatabaseOptions& o = db_.options();
  const char* keys[] = {"dbname", "application_name", nullptr};
  const char* values[] = {o.url.c_str(), o.application_name.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK)
    fail("cannot connect to the journal database: " + conn_error(conn_));
  PQsetNoticeProcessor(conn_, notice_to_log, nullptr);

  auto exec = [&](const std::string& sql, ExecStatusType want) {
    Result r(PQexec(conn_, sql.c_str()));
    if (!r || PQresultStatus(r.get()) != want)
      fail("journal: " + sql.substr(0, 60) + ": " + (r ? result_error(r.get()) : conn_error(conn_)));
    return r;
  };
  // An ack means "fsynced": never let a cluster-wide setting weaken that.
  std::string setup = "SET synchronous_commit = on";
  if (!o.schema.empty()) setup += "; SET search_path TO " + quote_ident(o.schema);
  exec(setup, PGRES_COMMAND_OK);
  // The lock lives on this session: the one that writes.
  auto got = exec("SELECT pg_try_advisory_lock(" + std::to_string(kWriterLockKey) +
                      "), pid || ' ' || extract(epoch FROM backend_start) "
                      "FROM pg_stat_activity WHERE pid = pg_backend_pid()",
                  PGRES_TUPLES_OK);
  if (PQntuples(got.get()) != 1) fail("journal: cannot see this session in pg_stat_activity");
  if (std::strcmp(PQgetvalue(got.get(), 0, 0), "t") != 0) {
    if (!previous_session_.empty()) {
      // Perhaps our own previous session still holds it: end that one
      // (same pid and start time, so never another broker's), then retry.
      const std::string previous = previous_session_;
      previous_session_.clear();
      const char* values[1] = {previous.c_str()};
      Result r(PQexecParams(conn_,
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE pid || ' ' || extract(epoch FROM backend_start) = $1",
                            1, nullptr, values, nullptr, nullptr, 0));
      if (r && PQresultStatus(r.get()) == PGRES_TUPLES_OK && PQntuples(r.get()) == 1)
        fail("journal: the writer lock is still held by this broker's previous session (" + previous +
             "); ended it, retry");
    }
    close();
    return false;
  }
  session_ = PQgetvalue(got.get(), 0, 1);
  previous_session_.clear();
  auto head = exec("SELECT coalesce(max(seq), 0) FROM journal", PGRES_TUPLES_OK);
  head_ = std::strtoull(PQgetvalue(head.get(), 0, 0), nullptr, 10);
  topic_heads_.clear();
  auto topics = exec("SELECT topic, last_seq FROM topic_head", PGRES_TUPLES_OK);
  for (int i = 0; i < PQntuples(topics.get()); ++i)
    topic_heads_[PQgetvalue(topics.get(), i, 0)] = std::strtoull(PQgetvalue(topics.get(), i, 1), nullptr, 10);
  auto id = exec("SELECT journal_id::text FROM journal_info", PGRES_TUPLES_OK);
  if (PQntuples(id.get()) != 1) fail("journal: journal_info does not hold exactly one row");
  journal_id_ = PQgetvalue(id.get(), 0, 0);
  for (const auto& s : kStatements) {
    Result r(PQprepare(conn_, s.name, s.sql, 0, nullptr));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      fail(std::string("journal: preparing ") + s.name + ": " +
           (r ? result_error(r.get()) : conn_error(conn_)));
  }
  if (!PQenterPipelineMode(conn_)) fail("journal: cannot enter pipeline mode: " + conn_error(conn_));
  // The migration connection is not needed while this session writes.
  db_.reset();
  open_ = true;
  return true;
}

void Journal::plan(bool use_known) {
  Work& w = *work_;
  const std::vector<Publish>& batch = *w.batch;
  w.head = head_;
  w.fresh.clear();
  w.first.clear();
  w.changed.clear();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Publish& p = batch[i];
    if (use_known) {
      if (auto k = w.known.find(w.ids[i]); k != w.known.end()) {
        w.out[i] = Appended{k->second, 0, true};
        continue;
      }
    }
    auto [f, is_first] = w.first.try_emplace(w.ids[i], i);
    if (!is_first) {
      w.out[i] = w.out[f->second];
      w.out[i].duplicate = true;
      continue;
    }
    std::uint64_t prev = 0;
    auto [t, new_topic] = w.changed.try_emplace(p.topic, 0);
    if (!new_topic) {
      prev = t->second;
    } else if (auto h = topic_heads_.find(p.topic); h != topic_heads_.end()) {
      prev = h->second;
    }
    const std::uint64_t seq = ++w.head;
    t->second = seq;
    w.out[i] = Appended{seq, prev, false};
    w.fresh.push_back(i);
  }
}

void Journal::send_batch() {
  Work& w = *work_;
  const std::vector<Publish>& batch = *w.batch;
  w.sent = w.answered = 0;
  w.want_null = w.duplicate = w.committed = false;
  w.error.clear();
  if (w.fresh.empty()) return;  // all duplicates: nothing to write
  auto send = [&](const char* stmt, int n, const char* const* values, const int* lengths) {
    static const int kBinary[5] = {1, 1, 1, 1, 1};
    if (!PQsendQueryPrepared(conn_, stmt, n, values, lengths, n ? kBinary : nullptr, 0))
      fail(std::string("journal: sending ") + stmt + ": " + conn_error(conn_));
    ++w.sent;
  };
  send(kBegin, 0, nullptr, nullptr);
  std::size_t k = 0;
  while (k < w.fresh.size()) {
    w.seq.start(kInt8Oid);
    w.id.start(kUuidOid);
    w.topic.start(kTextOid);
    w.prev.start(kInt8Oid);
    w.env.start(kByteaOid);
    std::size_t rows = 0, bytes = 0;
    while (k < w.fresh.size() && rows < kMaxRowsPerInsert &&
           (rows == 0 || bytes + batch[w.fresh[k]].envelope.size() <= kMaxBytesPerInsert)) {
      const std::size_t i = w.fresh[k++];
      w.seq.add_int8(w.out[i].seq);
      w.id.add(w.ids[i].bytes, 16);
      w.topic.add(batch[i].topic);
      w.prev.add_int8(w.out[i].prev_topic_seq);
      w.env.add(batch[i].envelope);
      bytes += batch[i].envelope.size();
      ++rows;
    }
    const std::string* arrays[5] = {&w.seq.finish(), &w.id.finish(), &w.topic.finish(), &w.prev.finish(),
                                    &w.env.finish()};
    const char* values[5];
    int lengths[5];
    for (int a = 0; a < 5; ++a) {
      values[a] = arrays[a]->data();
      lengths[a] = static_cast<int>(arrays[a]->size());
    }
    send(kInsert, 5, values, lengths);
  }
  w.ttopic.start(kTextOid);
  w.tseq.start(kInt8Oid);
  for (const auto& [topic, seq] : w.changed) {
    w.ttopic.add(topic);
    w.tseq.add_int8(seq);
  }
  const std::string& topics = w.ttopic.finish();
  const std::string& seqs = w.tseq.finish();
  const char* values[2] = {topics.data(), seqs.data()};
  const int lengths[2] = {static_cast<int>(topics.size()), static_cast<int>(seqs.size())};
  send(kTopics, 2, values, lengths);
  send(kCommit, 0, nullptr, nullptr);
  if (!PQpipelineSync(conn_)) fail("journal: sending the batch: " + conn_error(conn_));
  for (auto* a : {&w.seq, &w.id, &w.topic, &w.prev, &w.env}) a->trim();
}

// Every statement answers with one result (PIPELINE_ABORTED for those
// skipped after an error) and a NULL; then comes the sync. The first error
// decides: a duplicate event_id means "redo carefully", anything else fails
// the batch. A result that never comes means the outcome is unknown.
bool Journal::read_batch(bool block) {
  Work& w = *work_;
  if (w.sent == 0) return true;
  if (!block && !PQconsumeInput(conn_))
    fail("journal: connection lost, batch outcome unknown: " + conn_error(conn_));
  for (;;) {
    if (!block && PQisBusy(conn_)) return false;
    Result r(PQgetResult(conn_));
    if (w.want_null) {
      if (r) fail("journal: unexpected extra result in the pipeline");
      w.want_null = false;
      ++w.answered;
      continue;
    }
    if (w.answered == w.sent) {
      if (!r || PQresultStatus(r.get()) != PGRES_PIPELINE_SYNC)
        fail("journal: batch outcome unknown, no sync: " + (r ? result_error(r.get()) : conn_error(conn_)));
      return true;
    }
    if (!r) fail("journal: batch outcome unknown, a result is missing: " + conn_error(conn_));
    w.want_null = true;
    switch (PQresultStatus(r.get())) {
      case PGRES_COMMAND_OK:
        if (w.answered == w.sent - 1) w.committed = std::strcmp(PQcmdStatus(r.get()), "COMMIT") == 0;
        break;
      case PGRES_PIPELINE_ABORTED:
        break;
      case PGRES_FATAL_ERROR: {
        if (PQstatus(conn_) == CONNECTION_BAD)
          fail("journal: connection lost, batch outcome unknown: " + result_error(r.get()));
        const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
        const char* constraint = PQresultErrorField(r.get(), PG_DIAG_CONSTRAINT_NAME);
        if (w.error.empty() && !w.duplicate && state && std::strcmp(state, "23505") == 0 && constraint &&
            std::strcmp(constraint, kEventIdConstraint) == 0)
          w.duplicate = true;
        else if (w.error.empty())
          w.error = result_error(r.get());
        break;
      }
      default:
        if (w.error.empty())
          w.error = std::string("unexpected result ") + PQresStatus(PQresultStatus(r.get()));
    }
  }
}

void Journal::lookup() {
  Work& w = *work_;
  const std::vector<Publish>& batch = *w.batch;
  w.known.clear();
  w.first.clear();
  w.id.start(kUuidOid);
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (w.first.try_emplace(w.ids[i], i).second) w.id.add(w.ids[i].bytes, 16);
  const std::string& ids = w.id.finish();
  // The refused transaction is still open (aborted): roll it back first.
  if (!PQsendQueryPrepared(conn_, kRollback, 0, nullptr, nullptr, nullptr, 0))
    fail("journal: sending ROLLBACK: " + conn_error(conn_));
  const char* values[1] = {ids.data()};
  const int lengths[1] = {static_cast<int>(ids.size())};
  const int formats[1] = {1};
  if (!PQsendQueryPrepared(conn_, kKnown, 1, values, lengths, formats, 1) || !PQpipelineSync(conn_))
    fail("journal: sending the dedupe lookup: " + conn_error(conn_));
  for (int q = 0; q < 2; ++q) {
    Result r(PQgetResult(conn_));
    const ExecStatusType want = q == 0 ? PGRES_COMMAND_OK : PGRES_TUPLES_OK;
    if (!r || PQresultStatus(r.get()) != want)
      fail("journal: dedupe lookup: " + (r ? result_error(r.get()) : conn_error(conn_)));
    if (q == 1) {
      for (int row = 0; row < PQntuples(r.get()); ++row) {
        if (PQgetlength(r.get(), row, 0) != 16 || PQgetlength(r.get(), row, 1) != 8)
          fail("journal: dedupe lookup: unexpected binary row");
        Uuid u;
        std::memcpy(u.bytes, PQgetvalue(r.get(), row, 0), 16);
        w.known.emplace(u, load64(PQgetvalue(r.get(), row, 1)));
      }
    }
    if (Result extra{PQgetResult(conn_)}) fail("journal: unexpected extra result in the dedupe lookup");
  }
  Result sync(PQgetResult(conn_));
  if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC)
    fail("journal: dedupe lookup: no sync: " + conn_error(conn_));
}

void Journal::start(const std::vector<Publish>& batch) {
  if (!open_ || !conn_) throw JournalError("journal: not open");
  if (work_->batch) throw std::logic_error("journal: a batch is already in flight");
  Work& w = *work_;
  w.ids.resize(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (!parse_uuid(batch[i].event_id, w.ids[i]))
      throw std::invalid_argument("journal: event_id is not a UUID: " + batch[i].event_id.substr(0, 64));
  w.batch = &batch;
  w.out.assign(batch.size(), Appended{});
  w.careful = false;
  // Optimistic: duplicates of earlier batches are rare (retries only).
  plan(false);
  send_batch();
}

bool Journal::finish(std::vector<Appended>& out, bool block) {
  Work& w = *work_;
  if (!w.batch) throw std::logic_error("journal: no batch in flight");
  if (!read_batch(block)) return false;
  if (!w.error.empty()) fail("journal: batch not committed: " + w.error);
  if (w.duplicate) {
    if (w.careful) fail("journal: event_id refused as a duplicate after the lookup said it was new");
    // A retry of something journaled before. The transaction was refused
    // as a whole: find out which ids are known, then write only the others.
    ++stats_.fallbacks;
    spdlog::debug("journal: a batch of {} repeats journaled event ids; redoing it", w.batch->size());
    lookup();
    plan(true);
    w.careful = true;
    send_batch();
    return finish(out, true);
  }
  if (w.sent > 0 && !w.committed) fail("journal: batch not committed (COMMIT did not report COMMIT)");
  if (w.sent > 0) ++stats_.commits;
  head_ = w.head;
  for (const auto& [topic, seq] : w.changed) {
    if (auto t = topic_heads_.find(std::string(topic)); t != topic_heads_.end())
      t->second = seq;
    else
      topic_heads_.emplace(std::string(topic), seq);
  }
  out.swap(w.out);
  w.batch = nullptr;
  return true;
}

std::vector<Appended> Journal::append(const std::vector<Publish>& batch) {
  std::vector<Appended> out;
  if (batch.empty()) return out;
  start(batch);
  finish(out, true);
  return out;
}

}  // namespace eck::broker
