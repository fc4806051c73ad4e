// Run under `mpirun -np 2`: both ranks see each other and exchange data.
#include <gtest/gtest.h>
#include <mpi.h>

TEST(Mpi, TwoRanksSeeEachOther) {
  int rank = -1, size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_EQ(size, 2);
  int mine = 10 + rank, sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(sum, 21);
  int other = -1;
  MPI_Sendrecv(&rank, 1, MPI_INT, 1 - rank, 0, &other, 1, MPI_INT, 1 - rank, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  EXPECT_EQ(other, 1 - rank);
}
