//! Tests of the djangocrm emulator over HTTP.
