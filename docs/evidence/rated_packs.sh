# Sourced by the p_human scripts: every rated blind pack whose images are kept (pack/organiser/rated-images.npz),
# as RATED[name]="mapping answers...", with MAPPING=mapping-view.json (raw scores of the shipped judge, by
# docs/evidence/geninv-judge-view/rescore.py) unless the caller set MAPPING=mapping.json (raw scores of their day).
E=docs/evidence
MAPPING=${MAPPING:-mapping-view.json}
declare -A RATED
rated() {  # rated NAME ORGANISER_PARENT ANSWERS_DIR RATER...
  local name=$1 dir=$2 answers=$3; shift 3
  RATED[$name]="$dir/organiser/$MAPPING"
  for r in "$@"; do RATED[$name]+=" $answers/answers-$r.json"; done
}
rated 2027 $E/geninv-budget/pack $E/geninv-budget/answers r1 r2
rated 2028 $E/geninv-budget-2028/pack $E/geninv-budget-2028/answers r3 r4
rated 2029 $E/geninv-budget-2029/pack $E/geninv-budget-2029/answers r5 r6
rated 2030 $E/geninv-budget-2030/pack $E/geninv-budget-2030/answers r7 r8
rated 2031 $E/geninv-budget-2031/pack $E/geninv-budget-2031/answers r9 r10
rated 2032 $E/geninv-budget-2032/pack $E/geninv-budget-2032/answers r11 r12 r13 r14
rated 2033 $E/geninv-budget-2033/pack $E/geninv-budget-2033/answers r15 r16 r17 r18
rated ordering-ab $E/geninv-ordering-ab/pack $E/geninv-ordering-ab/answers r19 r20 r21
rated refine-ab $E/geninv-refine-ab/pack $E/geninv-refine-ab/answers r22 r23 r24
rated ghosts $E/geninv-tuning-ghosts/pack $E/geninv-tuning-ghosts/answers t1 t2
rated view-l0 $E/geninv-judge-view/pack-l0 $E/geninv-judge-view/pack-l0/answers r32 r33 r34 r35
rated view-linf $E/geninv-judge-view/pack-linf $E/geninv-judge-view/pack-linf/answers r36 r37 r38
rated widen-l0 $E/geninv-widen-ab/pack-l0 $E/geninv-widen-ab/pack-l0/answers r39 r40 r41 r42
rated widen-linf $E/geninv-widen-ab/pack-linf $E/geninv-widen-ab/pack-linf/answers r43 r44 r45
