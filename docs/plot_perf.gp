# Draws docs/perf.png from docs/perf.csv (written by benchmarks/compare). Run from the repository
# root:  gnuplot docs/plot_perf.gp   (or gnuplot -e 'f="x.csv"; out="x.png"' docs/plot_perf.gp)
set datafile separator ","
set datafile missing "nan"
set terminal pngcairo size 1200,1290 font "DejaVu Sans,10" noenhanced

set key top left
set logscale x 2
set logscale y 10
set grid
set xlabel "array size (MiB)"
set style data linespoints
if (!exists("f")) f = "docs/perf.csv"
if (!exists("out")) out = "docs/perf.png"
set output out
set multiplot layout 3,2 title "shmarray on a 2-core VM (Debian 12, /dev/shm tmpfs), medians; lower is better"

set title "hand an array to 2 workers, each sums it: wall time"
set ylabel "ms"
plot f using 2:4 title "shmarray (copy + attach)" lw 2 pt 7, \
     f using 2:5 title "pipe per worker" lw 2 pt 5

set title "workers' private memory (sum of RssAnon)"
set ylabel "MiB"
plot f using 2:($6/1024) title "shmarray" lw 2 pt 7, \
     f using 2:($7/1024) title "pipe" lw 2 pt 5

set key bottom right
set title "create a segment and copy the array in: throughput"
set ylabel "GB/s"
unset logscale y
set yrange [0:*]
plot f using 2:($1/($10*1e6)) title "shmarray::copy" lw 2 pt 7, \
     f using 2:($1/($11*1e6)) title "shm_open+ftruncate+mmap+memcpy" lw 2 pt 5, \
     f using 2:($1/($12*1e6)) title "Python shared_memory + NumPy" lw 2 pt 9

set key center right
set title "attach an existing segment"
set ylabel "µs"
plot f using 2:13 title "shmarray::attach" lw 2 pt 7, \
     f using 2:14 title "shm_open+fstat+mmap" lw 2 pt 5, \
     f using 2:15 title "Python SharedMemory(name) + ndarray" lw 2 pt 9

set key bottom right
set title "copy into a new segment vs warm memcpy (higher is better; goals 0.6 / 0.45)"
set ylabel "copy speed / warm memcpy speed"
set yrange [0:*]
plot f using 2:($16/$18) title "huge_pages::prefer (default)" lw 2 pt 7, \
     f using 2:($16/$17) title "huge_pages::off (4 KiB pages)" lw 2 pt 5, \
     f using 2:(0.45) title "goal >= 256 MiB" with lines dt 2 lc rgb "gray"

set key bottom right
set title "fresh reader's 1st pass vs 2nd, attach vs bare shm_open+fstat+mmap+close"
set ylabel "ratio"
set yrange [0:2]
plot f using 2:(1/$20) title "reader 1st/2nd pass speed, huge" lw 2 pt 7, \
     f using 2:(1/$19) title "reader 1st/2nd pass speed, off" lw 2 pt 5, \
     f using 2:24 title "attach / bare, huge" lw 2 pt 9, \
     f using 2:23 title "attach / bare, off" lw 2 pt 11
unset multiplot
