#include "ledger/premium/seq_runs.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace premium {

SeqRuns::SeqRuns(std::initializer_list<uint64_t> seqs)
    : SeqRuns(FromSeqs(std::vector<uint64_t>(seqs))) {}

SeqRuns SeqRuns::FromSeqs(std::vector<uint64_t> seqs) {
  std::vector<Run> runs;
  runs.reserve(seqs.size());
  for (const uint64_t seq : seqs)
    runs.push_back(Run{.first_seq = seq, .count = 1});
  return FromRuns(std::move(runs));
}

SeqRuns SeqRuns::FromRuns(std::vector<Run> runs) {
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) {
    return a.first_seq < b.first_seq;
  });
  SeqRuns set;
  for (const Run& run : runs) {
    assert(run.count > 0 && run.end_seq() > run.first_seq);
    if (!set.runs_.empty() && run.first_seq <= set.runs_.back().end_seq()) {
      Run& last = set.runs_.back();
      const uint64_t end_seq = std::max(last.end_seq(), run.end_seq());
      set.size_ += end_seq - last.end_seq();
      last.count = end_seq - last.first_seq;
    } else {
      set.runs_.push_back(run);
      set.size_ += run.count;
    }
  }
  return set;
}

uint64_t SeqRuns::back() const {
  assert(!runs_.empty());
  return runs_.back().end_seq() - 1;
}

void SeqRuns::Append(uint64_t seq) {
  assert(runs_.empty() || seq >= runs_.back().end_seq());
  if (!runs_.empty() && runs_.back().end_seq() == seq) {
    ++runs_.back().count;
  } else {
    runs_.push_back(Run{.first_seq = seq, .count = 1});
  }
  ++size_;
}

std::vector<SeqRuns::Run>::const_iterator SeqRuns::RunOf(uint64_t seq) const {
  // The last run starting at or before `seq`.
  auto it = std::upper_bound(
      runs_.begin(), runs_.end(), seq,
      [](uint64_t value, const Run& run) { return value < run.first_seq; });
  if (it == runs_.begin()) return runs_.end();
  --it;
  return seq < it->end_seq() ? it : runs_.end();
}

bool SeqRuns::Contains(uint64_t seq) const { return RunOf(seq) != runs_.end(); }

bool SeqRuns::Erase(uint64_t seq) {
  const auto found = RunOf(seq);
  if (found == runs_.end()) return false;
  auto run = runs_.begin() + (found - runs_.begin());
  const uint64_t end_seq = run->end_seq();
  if (run->count == 1) {
    runs_.erase(run);
  } else if (seq == run->first_seq) {
    ++run->first_seq;
    --run->count;
  } else if (seq + 1 == end_seq) {
    --run->count;
  } else {
    run->count = seq - run->first_seq;
    runs_.insert(run + 1,
                 Run{.first_seq = seq + 1, .count = end_seq - seq - 1});
  }
  --size_;
  return true;
}

void SeqRuns::AppendTo(std::vector<uint64_t>* seqs) const {
  seqs->reserve(seqs->size() + size_);
  for (const Run& run : runs_) {
    for (uint64_t seq = run.first_seq; seq < run.end_seq(); ++seq) {
      seqs->push_back(seq);
    }
  }
}

}  // namespace premium
