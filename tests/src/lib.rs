//! Test support shared by the trybuild and end-to-end suites.
