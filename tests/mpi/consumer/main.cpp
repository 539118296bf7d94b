// A downstream MPI program: one node-shared array, written by rank 0, read by every rank.
#include <cstdio>
#include <shmarray/mpi.hpp>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int bad = 0;
  {
    shmarray::mpi::node_layout layout(MPI_COMM_WORLD);
    auto a = shmarray::mpi::node_shared_array<double>::allocate(layout, {2, 3});
    if (layout.rank() == 0) a.view<2>()(1, 2) = 6.5;
    a.broadcast_from(0);
    int mine = a.view<2>()(1, 2) == 6.5 ? 0 : 1;
    MPI_Allreduce(&mine, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (layout.rank() == 0 && !bad) std::printf("consumer: rank 0 and rank 1 agree\n");
  }
  MPI_Finalize();
  return bad;
}
