// Sequential read bandwidth of anonymous memory in 4 KiB pages, in 2 MiB transparent huge pages, and with software
// prefetch, alternated in one process (medians and per-round ratios), for LargePages.cs.
// Build: gcc -O3 -mavx2 -o hugepage_bw hugepage_bw.c -lpthread; run: ./hugepage_bw THREADS ROUNDS (e.g. 2 21)
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <immintrin.h>
#include <time.h>
#include <pthread.h>
#include <fcntl.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {const char*p; size_t n; int pf; double r;} arg_t;
static void* sum(void*a_){arg_t*a=a_; __m256i acc=_mm256_setzero_si256(), acc2=acc;
  for(size_t i=0;i<a->n;i+=64){ if(a->pf) _mm_prefetch(a->p+i+a->pf,_MM_HINT_T0);
    acc=_mm256_add_epi8(acc,_mm256_loadu_si256((const __m256i*)(a->p+i)));
    acc2=_mm256_add_epi8(acc2,_mm256_loadu_si256((const __m256i*)(a->p+i+32)));}
  acc=_mm256_add_epi8(acc,acc2); a->r=_mm256_extract_epi8(acc,3); return 0;}
static double run(char*p,size_t n,int th,int pf){pthread_t t[8]; arg_t a[8]; double t0=now();
    for(int i=0;i<th;i++){a[i].p=p+n/th*i;a[i].n=n/th;a[i].pf=pf;pthread_create(&t[i],0,sum,&a[i]);}
    for(int i=0;i<th;i++)pthread_join(t[i],0); return n/(now()-t0)/1e9;}
int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){ size_t n=(size_t)1<<29; int th=atoi(argv[1]); int reps=atoi(argv[2]);
  char*p0=mmap(0,n,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0); madvise(p0,n,MADV_NOHUGEPAGE); memset(p0,1,n);
  char*p1=mmap(0,n+(2<<20),PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0); p1=(char*)(((size_t)p1+(2<<20)-1)&~((size_t)(2<<20)-1)); madvise(p1,n,MADV_HUGEPAGE); memset(p1,1,n);
  double a[64],b[64],c[64],ra[64],rb[64];
  for(int r=0;r<reps;r++){a[r]=run(p0,n,th,0);b[r]=run(p1,n,th,0);c[r]=run(p0,n,th,4096); ra[r]=b[r]/a[r]; rb[r]=c[r]/a[r];}
  qsort(a,reps,8,cmp);qsort(b,reps,8,cmp);qsort(c,reps,8,cmp);qsort(ra,reps,8,cmp);qsort(rb,reps,8,cmp);
  printf("th %d: 4k %.1f  huge %.1f  4k+pf4096 %.1f GB/s (medians); median ratio huge/4k %.2f, pf/4k %.2f\n",th,a[reps/2],b[reps/2],c[reps/2],ra[reps/2],rb[reps/2]);
}
