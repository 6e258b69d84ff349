DROP TABLE emergency_stops;
