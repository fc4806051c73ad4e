// DomainBed's misc.seed_hash (domainbed/lib/misc.py:132-137): the MD5 of
// Python's str() of the argument tuple, as an integer, modulo 2^31. DomainBed
// derives every job seed (scripts/sweep.py:121-122), hyper-parameter draw
// (scripts/train.py:75-79, hparams_registry.py:23-26) and data split
// (scripts/train.py:116-141) from it.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace uda::cli {

// An argument as DomainBed passes them: an int, a name (an identifier:
// letters, digits, '_') or a list of ints (test_envs).
using PyArg = std::variant<int64_t, std::string, std::vector<int64_t>>;

// A name seed_hash takes: letters, digits and '_' (a Python identifier's
// characters; DomainBed's dataset and algorithm names are class names).
bool is_identifier(const std::string& s);

// Python's repr of the tuple, e.g. "('RotatedMNIST', 'ERM', [0], 0, 0)".
// std::invalid_argument for a name that is not an identifier (its repr would
// need Python's escaping rules).
std::string py_tuple_repr(const std::vector<PyArg>& args);

// int(md5(repr).hexdigest(), 16) % 2**31: the digest's last four bytes,
// big-endian, without the top bit.
uint32_t seed_hash(const std::vector<PyArg>& args);

}  // namespace uda::cli
