/* pflow version. */
#ifndef PFLOW_VERSION_H
#define PFLOW_VERSION_H
#define PF_VERSION "0.1.0"
#endif
