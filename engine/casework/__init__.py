"""Portal bookings, personal data, attachments, KPIs, supervisor queries, resources and the staff directory."""
