/** `pgwarden/doctor`: the configuration judged and one connection proven, as a report. */
export { runDoctor } from './doctor.js';
export type { DoctorOptions, DoctorReport, ErrorSummary } from './doctor.js';
