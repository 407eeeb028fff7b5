// A set of seqs kept as runs of consecutive ones. A payroll upload appends
// one supplier's lines period after period, so the lines of a pay period
// are a run of the log or a few: 16 bytes a run instead of a fact a line,
// which is what lets reconciliation keep a season's payroll in the log
// rather than in memory.
#ifndef PREMIUM_LEDGER_PREMIUM_SEQ_RUNS_H_
#define PREMIUM_LEDGER_PREMIUM_SEQ_RUNS_H_

#include <cstdint>
#include <vector>

namespace premium {

class SeqRuns {
 public:
  // [first_seq, first_seq + count), count > 0.
  struct Run {
    uint64_t first_seq = 0;
    uint64_t count = 0;

    uint64_t end_seq() const { return first_seq + count; }
  };

  // `seq` must be above every seq held: seqs arrive in log order.
  void Append(uint64_t seq);
  // Removes `seq`; false, changing nothing, if it is not held.
  bool Erase(uint64_t seq);
  bool Contains(uint64_t seq) const;

  // Number of seqs held.
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Ascending, disjoint and never adjacent.
  const std::vector<Run>& runs() const { return runs_; }
  // Appends every seq held, ascending, to `seqs`.
  void AppendTo(std::vector<uint64_t>* seqs) const;

 private:
  // The run that would hold `seq`, or runs_.end().
  std::vector<Run>::const_iterator RunOf(uint64_t seq) const;

  std::vector<Run> runs_;
  uint64_t size_ = 0;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_SEQ_RUNS_H_
