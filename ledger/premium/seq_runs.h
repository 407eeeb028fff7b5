// A set of seqs kept as runs of consecutive ones. A payroll upload appends
// one supplier's lines period after period, so the lines of a pay period
// are a run of the log or a few: 16 bytes a run instead of a fact a line,
// which is what lets reconciliation keep a season's payroll in the log
// rather than in memory, and lets a discrepancy's evidence name every
// payroll line of a supplier's season in a few runs.
//
// Iterating a SeqRuns yields its seqs, ascending, one by one.
#ifndef PREMIUM_LEDGER_PREMIUM_SEQ_RUNS_H_
#define PREMIUM_LEDGER_PREMIUM_SEQ_RUNS_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <vector>

namespace premium {

class SeqRuns {
 public:
  // [first_seq, first_seq + count), count > 0.
  struct Run {
    uint64_t first_seq = 0;
    uint64_t count = 0;

    uint64_t end_seq() const { return first_seq + count; }
    friend bool operator==(const Run&, const Run&) = default;
  };

  // Walks the seqs of the runs, ascending.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = uint64_t;
    using difference_type = std::ptrdiff_t;
    using pointer = const uint64_t*;
    using reference = uint64_t;

    const_iterator() = default;
    uint64_t operator*() const { return run_->first_seq + offset_; }
    const_iterator& operator++() {
      if (++offset_ == run_->count) {
        ++run_;
        offset_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const const_iterator&,
                           const const_iterator&) = default;

   private:
    friend class SeqRuns;
    explicit const_iterator(std::vector<Run>::const_iterator run) : run_(run) {}

    std::vector<Run>::const_iterator run_;
    uint64_t offset_ = 0;
  };
  using iterator = const_iterator;
  using value_type = uint64_t;
  using size_type = uint64_t;

  SeqRuns() = default;
  // Any order; a seq given twice is held once.
  SeqRuns(std::initializer_list<uint64_t> seqs);
  static SeqRuns FromSeqs(std::vector<uint64_t> seqs);
  // The union of `runs`: any order, overlapping or not; each count > 0.
  static SeqRuns FromRuns(std::vector<Run> runs);

  // `seq` must be above every seq held: seqs arrive in log order.
  void Append(uint64_t seq);
  // Removes `seq`; false, changing nothing, if it is not held.
  bool Erase(uint64_t seq);
  bool Contains(uint64_t seq) const;

  // Number of seqs held.
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The largest seq held; the set must not be empty.
  uint64_t back() const;
  // Ascending, disjoint and never adjacent.
  const std::vector<Run>& runs() const { return runs_; }
  // Appends every seq held, ascending, to `seqs`.
  void AppendTo(std::vector<uint64_t>* seqs) const;

  const_iterator begin() const { return const_iterator(runs_.begin()); }
  const_iterator end() const { return const_iterator(runs_.end()); }

  friend bool operator==(const SeqRuns& a, const SeqRuns& b) {
    return a.runs_ == b.runs_;
  }

 private:
  // The run that would hold `seq`, or runs_.end().
  std::vector<Run>::const_iterator RunOf(uint64_t seq) const;

  std::vector<Run> runs_;
  uint64_t size_ = 0;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_SEQ_RUNS_H_
