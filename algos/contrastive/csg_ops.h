// The tensor operations of CSG (Chen et al., ICLR 2021, "Contrastive
// Syn-to-Real Generalization"), each the function of the official code
// (github.com/NVlabs/CSG, commit 175ecdf, model/csg_builder.py [csg]) it
// names, checked against it on fixed inputs (tests/algos/csg_test.cpp,
// scripts/make_csg_golden.py).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace uda::algos::contrastive {

// [csg] chunk_feature (:9-19): [N, C, H, W] -> [N*c*c, C, H/c, W/c], the
// map cut into c x c patches (torch.chunk along H, then along W), patch-major
// rows: patch (0,0) of every sample, then patch (0,1), ... c = 1: unchanged.
at::Tensor chunk_feature(const at::Tensor& features, int64_t chunks);

// [csg] adaptive_pool (:123-132), A-Pool: attention over positions
// a_hw ∝ Σ_c A_chw · GAP(A)_c (normalised to sum 1 over the positions of
// each sample) from `attn_from` ([N, C, H, W], non-negative: the ReLU
// output of a ResNet stage), applied to `features` of the same size:
// returns [N, C] = Σ_hw F_chw a_hw.
at::Tensor attention_pool(const at::Tensor& features, const at::Tensor& attn_from);

// Plain global average pool [N, C, H, W] -> [N, C] (the official avgpool
// without A-Pool, :171 and :187).
at::Tensor average_pool(const at::Tensor& features);

// [csg] forward (:196-204): logits [N, 1 + K] = [q·k, q·queue] / T for
// L2-normalised queries q and keys k [N, D] and the queue [D, K] (its
// columns are keys). The InfoNCE loss is their cross-entropy with target 0
// (train.py:250), a mean over the N query rows.
at::Tensor info_nce_logits(const at::Tensor& q, const at::Tensor& k, const at::Tensor& queue, double temperature);

// How the queue wraps when the step's keys run past its end.
enum class QueueWrap {
  // [csg] _dequeue_and_enqueue (:115-119): the first K - ptr keys fill the
  // end, and the FIRST ptr + B - K keys again (not the remaining ones) the
  // beginning — an official quirk, reproduced by default.
  Official,
  // A plain ring buffer: the remaining keys go to the beginning.
  Fifo,
};
QueueWrap queue_wrap_from_name(const std::string& name);  // "official" | "fifo"; std::invalid_argument otherwise

// [csg] _dequeue_and_enqueue (:106-121): writes `keys` [B, D] (the global
// batch's, B <= K) as columns of `queue` [D, K] from column `ptr[0]`, then
// ptr[0] = (ptr + B) mod K. `ptr` is an int64 [1] tensor.
void enqueue(at::Tensor& queue, at::Tensor& ptr, const at::Tensor& keys, QueueWrap wrap);

}  // namespace uda::algos::contrastive
