// LR schedules against mmcv's PolyLrUpdaterHook outputs recorded in the
// parity fixture (/helpers/lr of golden.h5), plus the other policies.
#include "worker/lr_schedule.h"

#include "tests/support/parity_fixture.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace {


template <class T>
std::vector<T> read_1d(hid_t file, const std::string& name, hid_t type) {
  hid_t ds = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  EXPECT_GE(ds, 0) << name;
  hid_t space = H5Dget_space(ds);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space, &n, nullptr);
  std::vector<T> out(n);
  H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
  H5Sclose(space);
  H5Dclose(ds);
  return out;
}

double read_attr_double(hid_t obj, const char* name) {
  double v = 0;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(a);
  return v;
}

int64_t read_attr_int64(hid_t obj, const char* name) {
  int64_t v = 0;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  return v;
}

std::string read_attr_string(hid_t obj, const char* name) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  std::string out;
  if (H5Tis_variable_str(t) > 0) {
    char* s = nullptr;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    H5Aread(a, mt, &s);
    out = s ? s : "";
    H5free_memory(s);
    H5Tclose(mt);
  } else {
    out.resize(H5Tget_size(t));
    H5Aread(a, t, out.data());
    out.resize(strnlen(out.c_str(), out.size()));
  }
  H5Tclose(t);
  H5Aclose(a);
  return out;
}

}  // namespace

TEST(LrSchedule, PolyWithLinearWarmupMatchesMmcvGolden) {
  const std::string path = uda::test::parity_golden();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0) << "parity fixture not found at " << path;
  hid_t g = H5Gopen2(f, "/helpers/lr", H5P_DEFAULT);
  uda::worker::LrScheduleOptions o;
  o.policy = "poly";
  o.power = read_attr_double(g, "power");
  o.min_lr = read_attr_double(g, "min_lr");
  o.warmup = read_attr_string(g, "warmup");
  o.warmup_ratio = read_attr_double(g, "warmup_ratio");
  o.warmup_iters = read_attr_int64(g, "warmup_iters");
  o.max_iters = read_attr_int64(g, "max_iters");
  const double base = read_attr_double(g, "base_lr"), head_mult = read_attr_double(g, "head_lr_mult");
  auto iters = read_1d<int64_t>(f, "/helpers/lr/iters", H5T_NATIVE_INT64);
  auto lr = read_1d<double>(f, "/helpers/lr/lr", H5T_NATIVE_DOUBLE);
  auto lr_head = read_1d<double>(f, "/helpers/lr/lr_head", H5T_NATIVE_DOUBLE);
  H5Gclose(g);
  H5Fclose(f);
  ASSERT_FALSE(iters.empty());
  uda::worker::LrSchedule s(o);
  for (size_t i = 0; i < iters.size(); ++i) {
    // Exact float64 values: same operations in the same order as mmcv.
    EXPECT_DOUBLE_EQ(s.lr(base, iters[i]), lr[i]) << "iter " << iters[i];
    EXPECT_DOUBLE_EQ(s.lr(base * head_mult, iters[i]), lr_head[i]) << "iter " << iters[i];
  }
}

TEST(LrSchedule, StepCosineConstantAndAdventPoly) {
  uda::worker::LrScheduleOptions o;
  o.max_iters = 100;
  o.policy = "step";
  o.steps = {10, 50};
  o.gamma = 0.5;
  uda::worker::LrSchedule step(o);
  EXPECT_DOUBLE_EQ(step.lr(1.0, 9), 1.0);
  EXPECT_DOUBLE_EQ(step.lr(1.0, 10), 0.5);
  EXPECT_DOUBLE_EQ(step.lr(1.0, 99), 0.25);
  o.policy = "cosine";
  o.min_lr = 0.1;
  uda::worker::LrSchedule cosine(o);
  EXPECT_DOUBLE_EQ(cosine.lr(1.0, 0), 1.0);
  EXPECT_NEAR(cosine.lr(1.0, 50), 0.55, 1e-12);
  // ADVENT's lr_poly: base * (1 - iter/max_iter)^0.9
  o.policy = "poly";
  o.min_lr = 0;
  o.power = 0.9;
  uda::worker::LrSchedule poly(o);
  EXPECT_DOUBLE_EQ(poly.lr(2.5e-4, 30), 2.5e-4 * std::pow(1 - 30.0 / 100, 0.9));
  o.warmup = "constant";
  o.warmup_iters = 5;
  o.warmup_ratio = 0.1;
  uda::worker::LrSchedule warm(o);
  EXPECT_DOUBLE_EQ(warm.lr(1.0, 4), poly.lr(1.0, 4) * 0.1);
  EXPECT_DOUBLE_EQ(warm.lr(1.0, 5), poly.lr(1.0, 5));
}

TEST(LrSchedule, InvIsMetaAlignsInvLrScheduler) {
  // MetaAlign classification/lr_scheduler.py: lr * (1 + gamma * iter)^(-power), gamma 0.001, power 0.75.
  uda::worker::LrScheduleOptions o;
  o.max_iters = 10002;
  o.policy = "inv";
  o.gamma = 0.001;
  o.power = 0.75;
  uda::worker::LrSchedule inv(o);
  EXPECT_DOUBLE_EQ(inv.lr(1e-3, 0), 1e-3);
  EXPECT_DOUBLE_EQ(inv.lr(1e-2, 1000), 1e-2 * std::pow(2.0, -0.75));
  EXPECT_NEAR(inv.lr(1e-3, 10000), 1e-3 * std::pow(11.0, -0.75), 1e-18);
}

// CSG's schedule (NVlabs/CSG utils/utils.py:48-49 lr_poly): the quadratic
// warm-up min(0.01 + 0.99 (iter/100)^2, 1) times the poly(0.9) decay, the
// formula written out here at every iteration of a 1000-iteration run.
TEST(LrSchedule, QuadraticWarmupIsCsgLrPoly) {
  uda::worker::LrScheduleOptions o;
  o.policy = "poly";
  o.power = 0.9;
  o.warmup = "quadratic";
  o.warmup_iters = 100;
  o.warmup_ratio = 0.01;
  o.max_iters = 1000;
  uda::worker::LrSchedule s(o);
  for (int64_t it = 0; it < 1000; ++it) {
    const double x = static_cast<double>(it);
    const double csg = std::min(0.01 + 0.99 * std::pow(x / 100, 2.0), 1.0) * 1e-3 * std::pow(1 - x / 1000, 0.9);
    EXPECT_NEAR(s.lr(1e-3, it), csg, 1e-15) << it;
  }
}
