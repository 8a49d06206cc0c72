// The personal data access report: rendered by the station; this only applies the page's language.
applyI18n();
