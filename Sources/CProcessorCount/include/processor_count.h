#ifndef PATIENT_RECORD_STORE_PROCESSOR_COUNT_H
#define PATIENT_RECORD_STORE_PROCESSOR_COUNT_H

/// The number of processors this process may run on: its CPU affinity mask (as taskset or a
/// container's cpuset set it), else the processors online. At least 1.
int prs_processor_count(void);

#endif
