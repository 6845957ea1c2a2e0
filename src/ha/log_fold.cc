#include "ha/log_fold.h"

#include <utility>

namespace dflockd::ha {

void LogFold::Reset(LogTail tail) {
  records_ = std::move(tail.records);
  net_ = std::move(tail.net);
  last_key_ = std::move(tail.last_key);
  entries_ = tail.entries;
  folding_ = false;
  in_fold_.clear();
  in_fold_last_key_.clear();
  in_fold_entries_ = 0;
  in_fold_deletes_.clear();
}

void LogFold::Committed(const std::string& log_key, std::vector<LogChange> changes) {
  for (LogChange& c : changes) net_[std::move(c.key)] = std::move(c.value);
  last_key_ = log_key;
  ++entries_;
}

std::optional<LogFold::Plan> LogFold::Start(std::size_t max_ops) {
  if (folding_ || entries_ == 0) return std::nullopt;
  const std::size_t per_batch = max_ops > 1 ? max_ops - 1 : 1;
  Plan plan;
  plan.batches.emplace_back();
  for (auto& [key, value] : net_) {
    if (!value) {
      // Never written (granted and released between two folds): nothing to delete.
      if (records_.count(key) == 0) continue;
      in_fold_deletes_.push_back(key);
    } else {
      records_.insert(key);  // counted as written from now on, even if the fold fails
    }
    if (plan.batches.back().size() == per_batch) plan.batches.emplace_back();
    plan.batches.back().push_back(LogChange{key, value});
  }
  plan.last_log_key = last_key_;
  folding_ = true;
  in_fold_ = std::move(net_);
  in_fold_last_key_ = std::move(last_key_);
  in_fold_entries_ = entries_;
  net_.clear();
  last_key_.clear();
  entries_ = 0;
  return plan;
}

void LogFold::Finished(bool ok) {
  if (!folding_) return;
  folding_ = false;
  if (ok) {
    for (const std::string& key : in_fold_deletes_) records_.erase(key);
  } else {
    // Its entries are still in the log: fold them again next time, under the newer ones.
    for (auto& [key, value] : in_fold_) net_.try_emplace(key, std::move(value));
    if (last_key_.empty()) last_key_ = std::move(in_fold_last_key_);
    entries_ += in_fold_entries_;
  }
  in_fold_.clear();
  in_fold_last_key_.clear();
  in_fold_entries_ = 0;
  in_fold_deletes_.clear();
}

}  // namespace dflockd::ha
