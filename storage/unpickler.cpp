#include "storage/unpickler.h"

#include "core/error.h"

#include <cstring>
#include <limits>
#include <unordered_map>

namespace uda::storage {

namespace {

constexpr const char* kOnlyStateDicts =
    "only tensor state dicts are supported (collections.OrderedDict / dict of tensors, numbers, strings, "
    "lists and tuples, as written by torch.save); no other Python object is loaded or executed";

struct StorageType {
  const char* name;
  DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", DType::Float32}, {"torch.DoubleStorage", DType::Float64},
    {"torch.HalfStorage", DType::Float16},  {"torch.BFloat16Storage", DType::BFloat16},
    {"torch.LongStorage", DType::Int64},    {"torch.IntStorage", DType::Int32},
    {"torch.ShortStorage", DType::Int16},   {"torch.CharStorage", DType::Int8},
    {"torch.ByteStorage", DType::UInt8},    {"torch.BoolStorage", DType::Bool},
};
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensorV2 = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";

const StorageType* storage_type(const std::string& name) {
  for (const auto& t : kStorageTypes)
    if (name == t.name) return &t;
  return nullptr;
}

bool allowed_global(const std::string& name) {
  return name == kOrderedDict || name == kRebuildTensorV2 || name == kRebuildParameter || storage_type(name);
}

const char* opcode_name(uint8_t op) {
  switch (op) {
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 'P': return "PERSID";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'p': return "PUT";
    case 'g': return "GET";
    case 'l': return "LIST";
    case 'd': return "DICT";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown";
  }
}

PyValuePtr make(PyValue::Kind k) {
  auto v = std::make_shared<PyValue>();
  v->kind = k;
  return v;
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const std::string& where, const StorageLoader& storages,
            const UnpickleLimits& limits)
      : p_(data), n_(size), where_(where), storages_(storages), limits_(limits) {}

  PyValuePtr run();

 private:
  [[noreturn]] void refuse(const std::string& what) const {
    throw UserError("unsupported pickle content: " + what + " at byte " + std::to_string(op_pos_), where_,
                    kOnlyStateDicts);
  }
  [[noreturn]] void corrupt(const std::string& what) const {
    throw UserError("corrupt pickle: " + what + " at byte " + std::to_string(op_pos_), where_,
                    "the file is damaged or not written by torch.save");
  }

  const uint8_t* take(size_t k) {
    if (k > n_ - pos_) corrupt("data ends inside an opcode argument (truncated)");
    const uint8_t* r = p_ + pos_;
    pos_ += k;
    return r;
  }
  uint64_t le(size_t k) {
    const uint8_t* b = take(k);
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
    return v;
  }
  std::string str(size_t len) {
    const uint8_t* b = take(len);
    return std::string(reinterpret_cast<const char*>(b), len);
  }
  std::string line() {
    size_t start = pos_;
    while (pos_ < n_ && p_[pos_] != '\n') ++pos_;
    if (pos_ >= n_) corrupt("unterminated GLOBAL argument");
    std::string s(reinterpret_cast<const char*>(p_ + start), pos_ - start);
    ++pos_;
    return s;
  }

  void push(PyValuePtr v) { stack_.push_back(std::move(v)); }
  PyValuePtr pop() {
    if (stack_.size() <= floor()) corrupt("stack underflow");
    PyValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PyValuePtr& top() {
    if (stack_.size() <= floor()) corrupt("stack underflow");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<PyValuePtr> pop_to_mark() {
    if (marks_.empty()) corrupt("no MARK for a MARK-terminated opcode");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                                  std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }

  // Places `child` inside `parent`: seals the child and tracks depth.
  void adopt(PyValue& parent, const PyValuePtr& child) {
    if (child.get() == &parent) refuse("a container that contains itself");
    child->sealed = true;
    if (child->depth + 1 > parent.depth) parent.depth = child->depth + 1;
    if (parent.depth > limits_.max_depth)
      refuse("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
  }
  PyValue& mutable_target(PyValue::Kind kind, const char* op) {
    PyValuePtr& t = top();
    if (t->kind != kind) refuse(std::string(op) + " on a " + t->type_name());
    if (t->sealed) refuse(std::string(op) + " on a container already placed in another one");
    return *t;
  }
  PyValuePtr tuple(std::vector<PyValuePtr> items) {
    auto t = mk(PyValue::Kind::Tuple);
    for (const auto& c : items) adopt(*t, c);
    t->items = std::move(items);
    return t;
  }
  void set_item(PyValue& d, PyValuePtr k, PyValuePtr v) {
    adopt(d, k);
    adopt(d, v);
    std::string key;
    if (k->kind == PyValue::Kind::Str) key = "s" + k->s;
    else if (k->kind == PyValue::Kind::Int) key = "i" + std::to_string(k->i);
    if (!key.empty()) {
      auto& idx = dict_index_[&d];
      auto it = idx.find(key);
      if (it != idx.end()) {
        d.dict[it->second].second = std::move(v);  // Python: a repeated key replaces the value
        return;
      }
      idx.emplace(key, d.dict.size());
    }
    d.dict.emplace_back(std::move(k), std::move(v));
  }

  PyValuePtr global(const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    if (!allowed_global(full)) refuse("global '" + full + "'");
    auto g = mk(PyValue::Kind::Global);
    g->s = full;
    return g;
  }
  // Every value is created here, so that their number is bounded.
  PyValuePtr mk(PyValue::Kind k) {
    if (++values_ > limits_.max_values) refuse("more than " + std::to_string(limits_.max_values) + " values");
    return make(k);
  }
  PyValuePtr persistent_load(const PyValuePtr& pid);
  PyValuePtr reduce(const PyValuePtr& callable, const PyValuePtr& args);
  PyValuePtr rebuild_tensor(const std::vector<PyValuePtr>& a);

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0, op_pos_ = 0;
  std::string where_;
  const StorageLoader& storages_;
  UnpickleLimits limits_;
  std::vector<PyValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyValuePtr> memo_;
  std::unordered_map<const PyValue*, std::unordered_map<std::string, size_t>> dict_index_;
  std::unordered_map<std::string, PyValuePtr> storage_cache_;
  uint64_t tensor_bytes_ = 0;
  uint64_t values_ = 0;
};

int64_t as_int(const PyValuePtr& v, bool& ok) {
  ok = v && v->kind == PyValue::Kind::Int;
  return ok ? v->i : 0;
}

PyValuePtr Unpickler::persistent_load(const PyValuePtr& pid) {
  // ('storage', <storage type global>, key, location, numel)
  if (pid->kind != PyValue::Kind::Tuple || pid->items.size() != 5 || !pid->items[0]->is_str() ||
      pid->items[0]->s != "storage")
    refuse("persistent id that is not a ('storage', type, key, location, numel) tuple");
  const auto& type = pid->items[1];
  const StorageType* st = type->kind == PyValue::Kind::Global ? storage_type(type->s) : nullptr;
  if (!st) refuse("persistent id with storage type " + type->type_name());
  if (!pid->items[2]->is_str()) refuse("storage key that is not a string");
  bool ok = false;
  int64_t numel = as_int(pid->items[4], ok);
  if (!ok || numel < 0) corrupt("storage element count is not a non-negative integer");
  const std::string& key = pid->items[2]->s;
  auto it = storage_cache_.find(key);
  if (it != storage_cache_.end()) {
    if (it->second->storage_dtype != st->dtype || it->second->storage_numel != numel)
      corrupt("storage '" + key + "' referenced with two different types or sizes");
    return it->second;
  }
  auto s = mk(PyValue::Kind::Storage);
  s->storage_dtype = st->dtype;
  s->storage_numel = numel;
  s->storage = storages_(key, st->dtype, numel);
  storage_cache_.emplace(key, s);
  return s;
}

PyValuePtr Unpickler::rebuild_tensor(const std::vector<PyValuePtr>& a) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (a.size() < 6 || a.size() > 7) refuse("_rebuild_tensor_v2 with " + std::to_string(a.size()) + " arguments");
  if (a[0]->kind != PyValue::Kind::Storage) refuse("_rebuild_tensor_v2 of a " + a[0]->type_name());
  const PyValue& st = *a[0];
  bool ok = false;
  int64_t offset = as_int(a[1], ok);
  if (!ok || offset < 0) corrupt("tensor storage offset is not a non-negative integer");
  if (a[2]->kind != PyValue::Kind::Tuple || a[3]->kind != PyValue::Kind::Tuple ||
      a[2]->items.size() != a[3]->items.size())
    corrupt("tensor size and stride are not tuples of equal length");
  size_t ndim = a[2]->items.size();
  if (ndim > 64) corrupt("tensor with more than 64 dimensions");
  std::vector<int64_t> size(ndim), stride(ndim);
  // Element count and largest index, in 128 bits so that no product overflows.
  unsigned __int128 numel = 1, last = static_cast<unsigned __int128>(offset);
  for (size_t d = 0; d < ndim; ++d) {
    size[d] = as_int(a[2]->items[d], ok);
    if (!ok || size[d] < 0) corrupt("tensor size is not a tuple of non-negative integers");
    stride[d] = as_int(a[3]->items[d], ok);
    if (!ok || stride[d] < 0) corrupt("tensor stride is not a tuple of non-negative integers");
    numel *= static_cast<uint64_t>(size[d]);
    if (numel > (static_cast<unsigned __int128>(1) << 62)) corrupt("tensor size overflows");
  }
  if (numel > 0) {
    for (size_t d = 0; d < ndim; ++d)
      last += static_cast<unsigned __int128>(size[d] - 1) * static_cast<uint64_t>(stride[d]);
    if (last >= static_cast<unsigned __int128>(st.storage_numel))
      corrupt("tensor view reaches beyond its storage (" + std::to_string(st.storage_numel) + " elements)");
  }
  size_t esize = dtype_size(st.storage_dtype);
  uint64_t nbytes = static_cast<uint64_t>(numel) * esize;
  if (nbytes > limits_.max_tensor_bytes - tensor_bytes_)
    refuse("tensors totalling more than " + std::to_string(limits_.max_tensor_bytes) +
           " bytes (views of shared storages copied too often)");
  tensor_bytes_ += nbytes;

  auto t = std::make_shared<TensorData>();
  t->dtype = st.storage_dtype;
  t->shape = size;
  t->bytes.resize(nbytes);
  const uint8_t* src = st.storage->data();
  // Contiguous views are one copy; others are walked element by element.
  bool contiguous = true;
  int64_t expect = 1;
  for (size_t d = ndim; d-- > 0;) {
    if (size[d] != 1 && stride[d] != expect) contiguous = false;
    expect *= size[d];
  }
  if (contiguous || numel == 0) {
    if (nbytes) std::memcpy(t->bytes.data(), src + static_cast<uint64_t>(offset) * esize, nbytes);
  } else {
    std::vector<int64_t> idx(ndim, 0);
    uint8_t* dst = t->bytes.data();
    for (uint64_t e = 0; e < static_cast<uint64_t>(numel); ++e) {
      int64_t off = offset;
      for (size_t d = 0; d < ndim; ++d) off += idx[d] * stride[d];
      std::memcpy(dst + e * esize, src + static_cast<uint64_t>(off) * esize, esize);
      for (size_t d = ndim; d-- > 0;) {
        if (++idx[d] < size[d]) break;
        idx[d] = 0;
      }
    }
  }
  auto v = mk(PyValue::Kind::Tensor);
  v->tensor = std::move(t);
  return v;
}

PyValuePtr Unpickler::reduce(const PyValuePtr& callable, const PyValuePtr& args) {
  if (callable->kind != PyValue::Kind::Global) refuse("REDUCE of a " + callable->type_name());
  if (args->kind != PyValue::Kind::Tuple) refuse("REDUCE with arguments that are not a tuple");
  const std::string& f = callable->s;
  const auto& a = args->items;
  if (f == kOrderedDict) {
    auto d = mk(PyValue::Kind::Dict);
    d->ordered = true;
    if (a.empty()) return d;
    if (a.size() == 1 && (a[0]->kind == PyValue::Kind::List || a[0]->kind == PyValue::Kind::Tuple)) {
      for (const auto& kv : a[0]->items) {
        if (kv->kind != PyValue::Kind::Tuple || kv->items.size() != 2) refuse("OrderedDict of non-pairs");
        set_item(*d, kv->items[0], kv->items[1]);
      }
      return d;
    }
    refuse("OrderedDict called with unsupported arguments");
  }
  if (f == kRebuildTensorV2) return rebuild_tensor(a);
  if (f == kRebuildParameter) {
    // _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself.
    if (a.size() != 3 || a[0]->kind != PyValue::Kind::Tensor) refuse("_rebuild_parameter with unexpected arguments");
    return a[0];
  }
  refuse("REDUCE of global '" + f + "'");
}

PyValuePtr Unpickler::run() {
  using K = PyValue::Kind;
  while (true) {
    op_pos_ = pos_;
    if (pos_ >= n_) corrupt("pickle ends without STOP (truncated)");
    uint8_t op = p_[pos_++];
    switch (op) {
      case 0x80: {  // PROTO
        uint64_t proto = le(1);
        if (proto > 5) corrupt("unknown pickle protocol " + std::to_string(proto));
        break;
      }
      case 0x95: le(8); break;  // FRAME: framing is only a read-ahead hint
      case '.': {  // STOP
        PyValuePtr result = pop();
        if (!stack_.empty() || !marks_.empty()) corrupt("values left on the stack at STOP");
        return result;
      }
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;  // POP
      case '1': pop_to_mark(); break;  // POP_MARK
      case '2': push(top()); break;  // DUP
      case 'N': push(mk(K::None)); break;
      case 0x88:
      case 0x89: {  // NEWTRUE / NEWFALSE
        auto v = mk(K::Bool);
        v->b = op == 0x88;
        push(v);
        break;
      }
      case 'J':
      case 'K':
      case 'M': {  // BININT / BININT1 / BININT2
        auto v = mk(K::Int);
        if (op == 'J') v->i = static_cast<int32_t>(static_cast<uint32_t>(le(4)));
        else v->i = static_cast<int64_t>(le(op == 'K' ? 1 : 2));
        push(v);
        break;
      }
      case 0x8a:
      case 0x8b: {  // LONG1 / LONG4: little-endian two's complement
        uint64_t len = le(op == 0x8a ? 1 : 4);
        if (len > 8) refuse("integer wider than 64 bits");
        const uint8_t* b = take(static_cast<size_t>(len));
        uint64_t u = 0;
        for (size_t k = 0; k < len; ++k) u |= static_cast<uint64_t>(b[k]) << (8 * k);
        if (len > 0 && len < 8 && (b[len - 1] & 0x80)) u |= ~uint64_t{0} << (8 * len);  // sign-extend
        auto v = mk(K::Int);
        v->i = static_cast<int64_t>(u);
        push(v);
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const uint8_t* b = take(8);
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | b[k];
        auto v = mk(K::Float);
        std::memcpy(&v->f, &u, 8);
        push(v);
        break;
      }
      case 'X':
      case 0x8c:
      case 0x8d:
      case 'T':
      case 'U': {  // BINUNICODE(/8), SHORT_BINUNICODE, BINSTRING, SHORT_BINSTRING
        uint64_t len = le(op == 0x8c || op == 'U' ? 1 : op == 0x8d ? 8 : 4);
        if (len > n_ - pos_) corrupt("string length " + std::to_string(len) + " beyond the end of the data");
        auto v = mk(K::Str);
        v->s = str(static_cast<size_t>(len));
        push(v);
        break;
      }
      case 'B':
      case 'C':
      case 0x8e: {  // BINBYTES, SHORT_BINBYTES, BINBYTES8
        uint64_t len = le(op == 'C' ? 1 : op == 'B' ? 4 : 8);
        if (len > n_ - pos_) corrupt("bytes length " + std::to_string(len) + " beyond the end of the data");
        auto v = mk(K::Bytes);
        v->s = str(static_cast<size_t>(len));
        push(v);
        break;
      }
      case '}': push(mk(K::Dict)); break;
      case ']': push(mk(K::List)); break;
      case ')': push(mk(K::Tuple)); break;
      case 't': push(tuple(pop_to_mark())); break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        size_t k = static_cast<size_t>(op - 0x84);
        std::vector<PyValuePtr> items(k);
        for (size_t j = k; j-- > 0;) items[j] = pop();
        push(tuple(std::move(items)));
        break;
      }
      case 'a': {  // APPEND
        PyValuePtr v = pop();
        PyValue& l = mutable_target(K::List, "APPEND");
        adopt(l, v);
        l.items.push_back(std::move(v));
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_to_mark();
        PyValue& l = mutable_target(K::List, "APPENDS");
        for (auto& v : items) {
          adopt(l, v);
          l.items.push_back(std::move(v));
        }
        break;
      }
      case 's': {  // SETITEM
        PyValuePtr v = pop();
        PyValuePtr k = pop();
        set_item(mutable_target(K::Dict, "SETITEM"), std::move(k), std::move(v));
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_to_mark();
        if (items.size() % 2) corrupt("SETITEMS with an odd number of values");
        PyValue& d = mutable_target(K::Dict, "SETITEMS");
        for (size_t j = 0; j < items.size(); j += 2) set_item(d, items[j], items[j + 1]);
        break;
      }
      case 'b': {  // BUILD: only attribute dicts on (Ordered)dicts, e.g. _metadata
        PyValuePtr state = pop();
        PyValue& target = mutable_target(K::Dict, "BUILD");
        if (state->kind != K::Dict) refuse("BUILD with a " + state->type_name() + " state");
        for (const auto& [k, v] : state->dict) {
          if (!k->is_str()) refuse("BUILD with a non-string attribute name");
          adopt(target, v);
          target.attributes.emplace_back(k->s, v);
        }
        break;
      }
      case 'q': memo_[le(1)] = top(); break;  // BINPUT
      case 'r': memo_[le(4)] = top(); break;  // LONG_BINPUT
      case 0x94: memo_[memo_.size()] = top(); break;  // MEMOIZE
      case 'h':
      case 'j': {  // BINGET / LONG_BINGET
        uint64_t key = le(op == 'h' ? 1 : 4);
        auto it = memo_.find(key);
        if (it == memo_.end()) corrupt("memo key " + std::to_string(key) + " not defined");
        push(it->second);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = line();
        std::string name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PyValuePtr name = pop();
        PyValuePtr module = pop();
        if (!name->is_str() || !module->is_str()) corrupt("STACK_GLOBAL of non-strings");
        push(global(module->s, name->s));
        break;
      }
      case 'R': {  // REDUCE
        PyValuePtr args = pop();
        PyValuePtr callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 'Q': push(persistent_load(pop())); break;  // BINPERSID
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        refuse(std::string("opcode ") + opcode_name(op) + " (" + hex + ")");
      }
    }
  }
}

}  // namespace

PyValuePtr unpickle(const uint8_t* data, size_t size, const std::string& where, const StorageLoader& storages,
                    const UnpickleLimits& limits) {
  return Unpickler(data, size, where, storages, limits).run();
}

}  // namespace uda::storage
