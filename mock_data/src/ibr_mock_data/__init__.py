"""ibr_mock_data."""
