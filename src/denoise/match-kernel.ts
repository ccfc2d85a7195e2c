/**
 * Block matching's passes (match.ts) as wasm with two float64 lanes: the same float64 operations in the same
 * order as the scalar loops they replace, lane by lane, so the distances and the matches are the same bits.
 *
 * The lanes are two region rows i, i+1 (differences and row sums: their windows start and end at the same
 * columns for every displacement) and then two cells gx, gx+1 (column sums, the rejection test). The luma is
 * stored as row pairs for that: element (y, x) holds luma (y, x) and (y + 2, x), one load for both lanes.
 */
import {
  doWhile, F64, f64, forRange, get, I32, i32, iadd, ieq, ile, ilt, imul, ine, isub, kernels, set, store, V128, vadd, vbitmask,
  vge, vgt, vlane, vload, vmul, vnot, vreplace, vselect, vsplat, vstore, vsub, when, type Code, type WasmFunction,
} from '../util/wasm.js';

/** All addresses are byte addresses into the arena; strides are in bytes. */
export interface MatchKernel {
  /**
   * Squared differences summed per 2×2 cell for one vertical displacement and all `nd` horizontal ones:
   * `pairs` pairs of region rows from the luma element at `ref` (the first row's reference cell), the
   * displaced cell at `ref + disp`, written to `q` as [displacement][pair][region column] lane pairs
   * (`qw` columns, `estride` bytes a displacement).
   */
  diffs(ref: number, disp: number, pw16: number, qw: number, pairs: number, nd16: number, estride: number, q: number): void;
  /**
   * One displacement's separable sums along the rows: windows of `b16` / 16 cells starting at columns
   * gx0…gx1 of each pair's rows in `qe`, written to `rows` (one float64 row per region row, `rowStride`).
   */
  rowSums(qe: number, rows: number, pairs: number, qw16: number, rowStride: number, gx0: number, gx1: number, b16: number): void;
  /**
   * The column sums of the row sums (`rows` at the row of cell row gy0) give each cell's window distance,
   * inserted into the cell's sorted list of `kk` when below its last: distances in `bd` and displacement `id`s
   * in `bi`, as `kk` planes of one float64 per cell (`planeStride` bytes apart).
   */
  windows(rows: number, cols: number, rowStride: number, b: number, gy0: number, gy1: number, gx0: number, gx1: number, w2: number,
    bd: number, bi: number, planeStride: number, kk: number, id: number): void;
}

function diffsCode(): Code {
  const [REF, DISP, PW16, QW, NP, ND16, ESTRIDE, Q] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [P, J, A, S, A1, S1, OUT, O2, EB] = [8, 9, 10, 11, 12, 13, 14, 15, 16];
  const [VA0, VA1, VA2, VA3, VT0, VU0, VT1, VU1, D0, D1, D2, D3] = Array.from({ length: 12 }, (_, k) => 17 + k);
  const sq = (d: number) => vmul(get(d), get(d));
  return [
    ...set(P, i32(0)),
    ...set(OUT, get(Q)),
    ...doWhile([
      ...set(J, i32(0)),
      ...set(A, get(REF)),
      ...forRange(J, get(QW), 1, [
        ...set(S, iadd(get(A), get(DISP))),
        ...set(A1, iadd(get(A), get(PW16))),
        ...set(S1, iadd(get(S), get(PW16))),
        // The cell's reference pixels once; the displaced columns slide (2 loads per displacement).
        ...set(VA0, vload(get(A))),
        ...set(VA1, vload(get(A), 16)),
        ...set(VA2, vload(get(A1))),
        ...set(VA3, vload(get(A1), 16)),
        ...set(VT0, vload(get(S))),
        ...set(VU0, vload(get(S1))),
        ...set(EB, i32(0)),
        ...set(O2, get(OUT)),
        ...forRange(EB, get(ND16), 16, [
          ...set(VT1, vload(iadd(get(S), get(EB)), 16)),
          ...set(VU1, vload(iadd(get(S1), get(EB)), 16)),
          ...set(D0, vsub(get(VA0), get(VT0))),
          ...set(D1, vsub(get(VA1), get(VT1))),
          ...set(D2, vsub(get(VA2), get(VU0))),
          ...set(D3, vsub(get(VA3), get(VU1))),
          ...vstore(get(O2), vadd(vadd(vadd(sq(D0), sq(D1)), sq(D2)), sq(D3))),
          ...set(VT0, get(VT1)),
          ...set(VU0, get(VU1)),
          ...set(O2, iadd(get(O2), get(ESTRIDE))),
        ]),
        ...set(A, iadd(get(A), i32(32))),
        ...set(OUT, iadd(get(OUT), i32(16))),
      ]),
      ...set(REF, iadd(get(REF), imul(get(PW16), i32(4)))),
      ...set(P, iadd(get(P), i32(1))),
    ], ilt(get(P), get(NP))),
  ];
}

function rowSumsCode(): Code {
  const [QE, ROWS, NP, QW16, RS, GX0, GX1, B16] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [P, QB, QF, RP, T, GX] = [8, 9, 10, 11, 12, 13];
  const SUM = 14;
  const storeLanes = [...store(get(RP), vlane(get(SUM), 0)), ...store(iadd(get(RP), get(RS)), vlane(get(SUM), 1))];
  return [
    ...set(P, i32(0)),
    ...doWhile([
      ...set(SUM, vsplat(f64(0))),
      ...set(QB, iadd(get(QE), imul(get(GX0), i32(16)))),
      ...set(T, i32(0)),
      ...forRange(T, get(B16), 16, set(SUM, vadd(get(SUM), vload(iadd(get(QB), get(T)))))),
      ...set(QF, iadd(get(QB), get(B16))),
      ...set(RP, iadd(get(ROWS), imul(get(GX0), i32(8)))),
      ...storeLanes,
      ...set(GX, iadd(get(GX0), i32(1))),
      // Running sums: one add and one subtract per cell.
      ...forRange(GX, iadd(get(GX1), i32(1)), 1, [
        ...set(SUM, vadd(get(SUM), vsub(vload(get(QF)), vload(get(QB))))),
        ...set(QF, iadd(get(QF), i32(16))),
        ...set(QB, iadd(get(QB), i32(16))),
        ...set(RP, iadd(get(RP), i32(8))),
        ...storeLanes,
      ]),
      ...set(QE, iadd(get(QE), get(QW16))),
      ...set(ROWS, iadd(get(ROWS), imul(get(RS), i32(2)))),
      ...set(P, iadd(get(P), i32(1))),
    ], ilt(get(P), get(NP))),
  ];
}

function windowsCode(): Code {
  const [ROWS, COLS, RS, B, GY0, GY1, GX0, GX1, W2, BD, BI, PS, KK, ID] = Array.from({ length: 14 }, (_, k) => k);
  const [GX, GY, T, RP, CELL8, BW, WL, J, PD, PI, CP, RX] = Array.from({ length: 12 }, (_, k) => 14 + k);
  const [SUM, DIST, VID, PREVD, PREVI, PREVC, D, I, C] = Array.from({ length: 9 }, (_, k) => 26 + k);
  const colAt = iadd(get(COLS), imul(get(GX), i32(8)));
  // Slot j of the two cells' lists: the candidate goes where the slot's distance is greater and the previous
  // slot's is not, the slots after it shift down one; so ties keep the earlier displacement.
  const slot = (test: Code): Code => [
    ...set(D, vload(get(PD))),
    ...set(I, vload(get(PI))),
    ...set(C, test),
    ...vstore(get(PD), vselect(get(PREVD), vselect(get(DIST), get(D), get(C)), get(PREVC))),
    ...vstore(get(PI), vselect(get(PREVI), vselect(get(VID), get(I), get(C)), get(PREVC))),
    ...set(PREVD, get(D)),
    ...set(PREVI, get(I)),
    ...set(PREVC, get(C)),
    ...set(PD, iadd(get(PD), get(PS))),
    ...set(PI, iadd(get(PI), get(PS))),
  ];
  return [
    ...set(VID, vsplat(get(ID))),
    ...set(GX, get(GX0)),
    ...forRange(GX, iadd(get(GX1), i32(1)), 2, [
      ...set(SUM, vsplat(f64(0))),
      ...set(RP, iadd(get(ROWS), imul(get(GX), i32(8)))),
      ...set(T, i32(0)),
      ...forRange(T, get(B), 1, [...set(SUM, vadd(get(SUM), vload(get(RP)))), ...set(RP, iadd(get(RP), get(RS)))]),
      ...vstore(colAt, get(SUM)),
    ]),
    ...set(BW, imul(get(B), get(RS))),
    ...set(WL, iadd(get(BD), imul(isub(get(KK), i32(1)), get(PS)))),
    ...set(GY, get(GY0)),
    ...set(RP, get(ROWS)),
    ...doWhile([
      ...set(GX, get(GX0)),
      ...set(CP, colAt),
      ...set(RX, iadd(get(RP), imul(get(GX0), i32(8)))),
      ...set(CELL8, imul(iadd(imul(get(GY), get(W2)), get(GX0)), i32(8))),
      ...forRange(GX, iadd(get(GX1), i32(1)), 2, [
        ...set(DIST, vload(get(CP))),
        // Also after the last row (its rows exist, the sums go unused): no branch.
        ...vstore(get(CP), vsub(vadd(get(DIST), vload(iadd(get(RX), get(BW)))), vload(get(RX)))),
        // Lane 1 past gx1 is no cell of this displacement: an infinite distance is never kept.
        ...when(ieq(get(GX), get(GX1)), set(DIST, vreplace(get(DIST), 1, f64(Infinity)))),
        // Most candidates fail both lanes' test against the cells' worst kept distance (the lists' last slot).
        ...when(ine(vbitmask(vge(get(DIST), vload(iadd(get(WL), get(CELL8))))), i32(3)), [
          ...set(PD, iadd(get(BD), get(CELL8))),
          ...set(PI, iadd(get(BI), get(CELL8))),
          ...set(PREVC, vsplat(f64(0))),
          ...set(J, i32(1)),
          ...forRange(J, get(KK), 1, slot(vgt(get(D), get(DIST)))),
          // The last slot takes it whenever the test passed (as !(dist ≥ worst), also for NaN).
          ...slot(vnot(vge(get(DIST), get(D)))),
        ]),
        ...set(CP, iadd(get(CP), i32(16))),
        ...set(RX, iadd(get(RX), i32(16))),
        ...set(CELL8, iadd(get(CELL8), i32(16))),
      ]),
      ...set(RP, iadd(get(RP), get(RS))),
      ...set(GY, iadd(get(GY), i32(1))),
    ], ile(get(GY), get(GY1))),
  ];
}

const ints = (n: number): number[] => Array<number>(n).fill(I32);

export const matchKernel = kernels<MatchKernel>((): WasmFunction[] => [
  { name: 'diffs', params: ints(8), results: [], locals: [...ints(9), ...Array<number>(12).fill(V128)], body: diffsCode() },
  { name: 'rowSums', params: ints(8), results: [], locals: [...ints(6), V128], body: rowSumsCode() },
  { name: 'windows', params: [...ints(13), F64], results: [], locals: [...ints(12), ...Array<number>(9).fill(V128)], body: windowsCode() },
]);
