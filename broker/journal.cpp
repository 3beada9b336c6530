#include "journal.h"

#include <tuple>
#include <unordered_map>

#include <pqxx/stream_to>

namespace eck::broker {
namespace {

std::string hex_bytea(const std::string& bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 + bytes.size() * 2);
  out += "\\x";
  for (unsigned char c : bytes) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 0xf]);
  }
  return out;
}

}  // namespace

bool Journal::try_open() {
  open_ = false;
  auto& conn = db_.connection();
  // An ack means "fsynced": never let a cluster-wide setting weaken that.
  pqxx::nontransaction nt(conn);
  nt.exec("SET synchronous_commit = on");
  auto got = nt.exec1("SELECT pg_try_advisory_lock(" + std::to_string(kWriterLockKey) + ")");
  if (!got[0].as<bool>()) return false;
  head_ = nt.exec1("SELECT coalesce(max(seq), 0) FROM journal")[0].as<std::uint64_t>();
  topic_heads_.clear();
  for (const auto& row : nt.exec("SELECT topic, last_seq FROM topic_head"))
    topic_heads_[row[0].as<std::string>()] = row[1].as<std::uint64_t>();
  journal_id_ = nt.exec1("SELECT journal_id::text FROM journal_info")[0].as<std::string>();
  open_ = true;
  return true;
}

void Journal::reset() {
  open_ = false;
  db_.reset();
}

std::vector<Appended> Journal::append(const std::vector<Publish>& batch) {
  std::vector<Appended> out(batch.size());
  if (batch.empty()) return out;
  auto& conn = db_.connection();
  pqxx::work tx(conn);

  // Which of these ids are journaled already? Ids were validated as UUIDs,
  // so they can go into the array literal as they are.
  std::string ids = "{";
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (i) ids += ',';
    ids += batch[i].event_id;
  }
  ids += '}';
  std::unordered_map<std::string, std::uint64_t> known;
  for (const auto& row :
       tx.exec("SELECT event_id::text, seq FROM journal WHERE event_id = ANY(" + tx.quote(ids) +
               "::uuid[])"))
    known.emplace(row[0].as<std::string>(), row[1].as<std::uint64_t>());

  // Tentative state: becomes real only after commit.
  std::uint64_t head = head_;
  std::map<std::string, std::uint64_t> changed_topics;
  std::unordered_map<std::string, std::size_t> first_in_batch;
  std::size_t fresh = 0;
  {
    pqxx::stream_to copy(tx, "journal",
                         std::vector<std::string>{"seq", "event_id", "topic", "prev_topic_seq",
                                                  "envelope"});
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Publish& p = batch[i];
      if (auto k = known.find(p.event_id); k != known.end()) {
        out[i] = Appended{k->second, 0, true};
        continue;
      }
      if (auto f = first_in_batch.find(p.event_id); f != first_in_batch.end()) {
        out[i] = out[f->second];
        out[i].duplicate = true;
        continue;
      }
      std::uint64_t prev = 0;
      if (auto t = changed_topics.find(p.topic); t != changed_topics.end())
        prev = t->second;
      else if (auto h = topic_heads_.find(p.topic); h != topic_heads_.end())
        prev = h->second;
      const std::uint64_t seq = ++head;
      changed_topics[p.topic] = seq;
      first_in_batch.emplace(p.event_id, i);
      out[i] = Appended{seq, prev, false};
      copy << std::make_tuple(static_cast<long long>(seq), p.event_id, p.topic,
                              static_cast<long long>(prev), hex_bytea(p.envelope));
      ++fresh;
    }
    copy.complete();
  }
  if (fresh > 0) {
    std::string upsert = "INSERT INTO topic_head (topic, last_seq) VALUES ";
    bool first = true;
    for (const auto& [topic, seq] : changed_topics) {
      if (!first) upsert += ',';
      first = false;
      upsert += "(" + tx.quote(topic) + "," + std::to_string(seq) + ")";
    }
    upsert += " ON CONFLICT (topic) DO UPDATE SET last_seq = EXCLUDED.last_seq";
    tx.exec0(upsert);
  }
  tx.commit();

  head_ = head;
  for (const auto& [topic, seq] : changed_topics) topic_heads_[topic] = seq;
  return out;
}

}  // namespace eck::broker
