paycheck services
paycheck bill Weather --from today --to tomorrow --method getForecast --save weather.txt
paycheck pay --artifact-file weather.txt
paycheck info --artifact-file weather.txt
paycheck reset --artifact-file weather.txt --json
